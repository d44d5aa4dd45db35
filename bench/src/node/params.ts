// Part 4 (persistence on Node): sizes per system. LiveStore's file storage writes ~450 events/s
// here (bench-anchors.md), so it runs smaller N; per-event figures stay comparable, totals do not.

export type NodeSystemId = 'cairn-node' | 'bsql' | 'livestore-file'
export const NODE_SYSTEMS: readonly NodeSystemId[] = ['cairn-node', 'bsql', 'livestore-file']

export type NodeWorkloadId = 'n1' | 'n2' | 'n3' | 'n4' | 'n5'
export const NODE_WORKLOADS: readonly NodeWorkloadId[] = ['n1', 'n2', 'n3', 'n4', 'n5']

export interface NodeParams {
  /** n1: events written in durable commits of `perCommit`, each awaited. */
  readonly throughputEvents: number
  readonly perCommit: number
  /** n1, n2: events committed between the cold and the timed phase, untimed (see phases.ts). */
  readonly warmupEvents: number
  /** n2: single-event commits, each awaited until durable. */
  readonly singles: number
  /** n2: single commits between the cold and the timed phase, untimed. */
  readonly warmupSingles: number
  /** n5: events committed in one loop, `perCommit` at a time, only the last awaited (a bulk import). */
  readonly bulkEvents: number
  /** n3, n4: events in the persisted store (written by a setup process, 1,000 per commit). */
  readonly persist: number
}

const FULL: NodeParams = { throughputEvents: 10_000, perCommit: 100, warmupEvents: 10_000, singles: 1_000, warmupSingles: 2_000, bulkEvents: 100_000, persist: 100_000 }
const QUICK: NodeParams = { throughputEvents: 2_000, perCommit: 100, warmupEvents: 2_000, singles: 200, warmupSingles: 400, bulkEvents: 10_000, persist: 10_000 }
const LIVESTORE_FULL: NodeParams = { throughputEvents: 2_000, perCommit: 100, warmupEvents: 2_000, singles: 200, warmupSingles: 400, bulkEvents: 10_000, persist: 10_000 }
const LIVESTORE_QUICK: NodeParams = { throughputEvents: 500, perCommit: 100, warmupEvents: 500, singles: 50, warmupSingles: 100, bulkEvents: 2_000, persist: 2_000 }

export function nodeParamsFor(system: NodeSystemId, quick: boolean): NodeParams {
  if (system === 'livestore-file') return quick ? LIVESTORE_QUICK : LIVESTORE_FULL
  return quick ? QUICK : FULL
}
