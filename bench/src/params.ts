// Sizes of every workload, per system. LiveStore runs some workloads with a smaller N so the full
// run stays within ~15 minutes on 2 cores (bench-anchors.md: its per-event costs are in the
// milliseconds and grow with the pending list). Per-event figures stay comparable; totals do not.

export type SystemId = 'cairn' | 'raw' | 'livestore'
export const SYSTEMS: readonly SystemId[] = ['cairn', 'raw', 'livestore']

export type WorkloadId = 'w1' | 'w2' | 'w3' | 'w4' | 'w5' | 'w6'
export const WORKLOADS: readonly WorkloadId[] = ['w1', 'w2', 'w3', 'w4', 'w5', 'w6']

export interface Params {
  /** w1: single-event commits with 10 relevant + 90 unrelated subscriptions. */
  readonly commits: number
  /** w2: events in one commit. */
  readonly batch: number
  /** w3, w4: rows in `todos` before measuring. */
  readonly rows: number
  /** w3, w4: events per commit while filling `todos`. */
  readonly fillBatch: number
  /** w3: executions per variant. */
  readonly queries: number
  /** w4: measured todoCompleted commits (and as many again for the control without unrelated subs). */
  readonly reactive: number
  /** w5: events the leader holds before boot. */
  readonly persist: number
  /** w5: events per commit while writing them. */
  readonly persistBatch: number
  /** w5: boots timed after the first one. */
  readonly boots: number
  /** w6: rebases timed per pending size (1, 100, 1,000 pending events). */
  readonly rebases: number
}

const FULL: Params = {
  commits: 10_000,
  batch: 10_000,
  rows: 10_000,
  fillBatch: 1_000,
  queries: 1_000,
  reactive: 500,
  persist: 100_000,
  persistBatch: 1_000,
  boots: 5,
  rebases: 7,
}

const QUICK: Params = {
  commits: 500,
  batch: 1_000,
  rows: 2_000,
  fillBatch: 500,
  queries: 200,
  reactive: 50,
  persist: 5_000,
  persistBatch: 500,
  boots: 2,
  rebases: 2,
}

/**
 * LiveStore's smaller sizes (only the fields that differ), measured on 2 cores: 5,000 commits take
 * it ~35 s (10,000 would take ~90 s); writing 10,000 events to its file storage ~22 s (100,000
 * took 18 minutes in bench-anchors.md).
 */
const LIVESTORE_FULL: Partial<Params> = { commits: 5_000, persist: 10_000, boots: 2 }
const LIVESTORE_QUICK: Partial<Params> = { persist: 1_000, boots: 1 }

export function paramsFor(system: SystemId, quick: boolean): Params {
  const base = quick ? QUICK : FULL
  if (system !== 'livestore') return base
  return { ...base, ...(quick ? LIVESTORE_QUICK : LIVESTORE_FULL) }
}

/** Per-child time limit: a stuck system is reported as failed instead of hanging the run. */
export function timeoutMsFor(system: SystemId, quick: boolean): number {
  if (quick) return system === 'livestore' ? 90_000 : 60_000
  return system === 'livestore' ? 240_000 : 180_000
}
