// n1 and n2 run their commits in three phases in one process, the same for every system: the
// first N (a fresh process: V8 still compiling Cairn's JS and SQLite's wasm, which native
// SQLite does not need), a warm-up that is not timed, then N more, timed: the steady rate.
import { makeTodos, type TodoArgs } from '../data.ts'
import { cpuMsSince } from '../stats.ts'

export interface PhaseTimes {
  /** Rate of the first `n` events (or commits) of the process. */
  readonly cold_per_s: number
  /** Rate of the last `n`, after the warm-up. */
  readonly per_s: number
  /** CPU of the last `n` (ms, all threads). */
  readonly cpu_ms: number
}

/**
 * Commits `n`, then `warmup`, then `n` more todos through `commit`, `perCommit` at a time, each
 * awaited (the caller's commit resolves when the batch is durable).
 */
export async function timePhases(
  n: number,
  warmup: number,
  perCommit: number,
  commit: (batch: readonly TodoArgs[]) => Promise<void>,
): Promise<PhaseTimes> {
  const todos = makeTodos(2 * n + warmup)
  const run = async (from: number, to: number) => {
    for (let i = from; i < to; i += perCommit) await commit(todos.slice(i, Math.min(i + perCommit, to)))
  }
  const t0 = performance.now()
  await run(0, n)
  const coldMs = performance.now() - t0
  await run(n, n + warmup)
  const t1 = performance.now()
  const c1 = process.cpuUsage()
  await run(n + warmup, 2 * n + warmup)
  const ms = performance.now() - t1
  const cpu = cpuMsSince(c1)
  return { cold_per_s: (n / coldMs) * 1000, per_s: (n / ms) * 1000, cpu_ms: cpu }
}
