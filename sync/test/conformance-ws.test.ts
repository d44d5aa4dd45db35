import { runConformance } from './conformance/suite.ts'
import { wsTarget } from './conformance/targets.ts'

runConformance(wsTarget)
