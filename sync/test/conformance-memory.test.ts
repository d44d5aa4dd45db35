import { runConformance } from './conformance/suite.ts'
import { memoryTarget } from './conformance/targets.ts'

runConformance(memoryTarget)
