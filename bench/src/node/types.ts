import type { NodeParams } from './params.ts'

/** What one step of one system measured (metric id -> value), sent from its process to the runner. */
export interface StepResult {
  readonly metrics: Record<string, number>
  readonly notes?: readonly string[]
}

/**
 * One system's steps. `setup` writes `persist` events into `dir`; `boot` and `rebuild` run each in
 * a fresh process on what setup left there, as an app restarting would.
 */
export interface NodeSystem {
  throughput(p: NodeParams, dir: string): Promise<StepResult>
  singles(p: NodeParams, dir: string): Promise<StepResult>
  bulk(p: NodeParams, dir: string): Promise<StepResult>
  setup(p: NodeParams, dir: string): Promise<StepResult>
  boot(p: NodeParams, dir: string): Promise<StepResult>
  rebuild(p: NodeParams, dir: string): Promise<StepResult>
}

export type StepId = keyof NodeSystem
