import { runConformance } from './conformance/suite.ts'
import { httpTarget } from './conformance/targets.ts'

runConformance(httpTarget)
