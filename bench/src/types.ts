import type { Params, WorkloadId } from './params.ts'

/** What one workload of one system measured, sent from the child process to the runner. */
export interface WorkloadResult {
  /** The N this system ran the workload with (events, commits, rows: see the workload). */
  readonly n: number
  /** Metric id (see report.ts) -> value. */
  readonly metrics: Record<string, number>
  /** Anything the reader should know: SQL a builder produced, sanity checks that failed. */
  readonly notes?: readonly string[]
}

export type Workload = (p: Params) => Promise<WorkloadResult>
export type SystemModule = Record<WorkloadId, Workload>

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message)
}
