// Measuring helpers shared by the systems.
import { median, summarize, type Summary } from './stats.ts'

/** Resolves on the next macrotask: lets timers, I/O and a library's background work run. */
export const nextMacrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * Runs `fn` untimed for `ms` milliseconds, then yields a macrotask. V8 first runs sqlite3.wasm on
 * its baseline compiler and tiers hot functions up later, so a short loop measured right after a
 * quick setup would time baseline code in one system and optimized code in another.
 */
export async function warmUp(ms: number, fn: () => unknown): Promise<void> {
  const end = performance.now() + ms
  while (performance.now() < end) for (let i = 0; i < 10; i++) fn()
  await nextMacrotask()
}

/** Untimed todoCompleted commits before workload 4's samples. */
export const W4_WARMUP_COMMITS = 50

/** Times `fn` `n` times (µs each); checks the row count of the last result. */
export function timeReads(n: number, expectedRows: number, fn: () => unknown): Summary {
  const out = new Float64Array(n)
  let rows = -1
  for (let i = 0; i < n; i++) {
    const s = performance.now()
    const result = fn()
    out[i] = (performance.now() - s) * 1000
    rows = (result as unknown[]).length
  }
  if (rows !== expectedRows) throw new Error(`expected ${expectedRows} rows, got ${rows}`)
  return summarize(out)
}

/** Like `timeReads`, but each read runs in its own macrotask, as reads from separate UI events do. */
export async function timeReadsPerTask(n: number, expectedRows: number, fn: () => unknown): Promise<Summary> {
  const out = new Float64Array(n)
  let rows = -1
  for (let i = 0; i < n; i++) {
    await nextMacrotask()
    const s = performance.now()
    const result = fn()
    out[i] = (performance.now() - s) * 1000
    rows = (result as unknown[]).length
  }
  if (rows !== expectedRows) throw new Error(`expected ${expectedRows} rows, got ${rows}`)
  return summarize(out)
}

/**
 * Counts down the relevant subscribers' calls after a commit and records when the last one
 * ran. `arm()` before the commit; `done()` resolves at once if all were called synchronously.
 */
export class CallbackLatch {
  private remaining = 0
  private doneAt = 0
  private wake: (() => void) | undefined

  constructor(private readonly expected: number) {}

  /** Call from every relevant subscriber. */
  readonly hit = (): void => {
    if (--this.remaining === 0) {
      this.doneAt = performance.now()
      this.wake?.()
    }
  }

  arm(): void {
    this.remaining = this.expected
    this.wake = undefined
  }

  /** Resolves with the time the last expected call happened; fails after 10 s. */
  done(): Promise<number> {
    if (this.remaining <= 0) return Promise.resolve(this.doneAt)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${this.expected - this.remaining} of ${this.expected} relevant subscribers were called within 10 s`)),
        10_000,
      )
      this.wake = () => {
        clearTimeout(timer)
        resolve(this.doneAt)
      }
    })
  }
}

/**
 * Workload 4's loop: for each id, commit (synchronously, in `commit`) and time until the latch saw
 * every relevant subscriber; then await the durability `commit` returned, outside the sample.
 */
export async function timeCommitsToCallbacks(
  latch: CallbackLatch,
  ids: readonly string[],
  commit: (id: string) => () => Promise<void>,
): Promise<Summary> {
  const samples = new Float64Array(ids.length)
  for (let i = 0; i < ids.length; i++) {
    latch.arm()
    const s = performance.now()
    const durable = commit(ids[i]!)
    samples[i] = ((await latch.done()) - s) * 1000
    await durable()
  }
  return summarize(samples)
}

/** Workload 5: the first boot, then the median of `more` further boots (ms), checking the rows. */
export async function timeBoots(more: number, expectedRows: number, bootOnce: () => Promise<{ ms: number; rows: number }>) {
  const first = await bootOnce()
  if (first.rows !== expectedRows) throw new Error(`expected ${expectedRows} rows after boot, got ${first.rows}`)
  const rest: number[] = []
  for (let i = 0; i < more; i++) rest.push((await bootOnce()).ms)
  return { firstMs: first.ms, medianMs: rest.length > 0 ? median(rest) : first.ms, rows: first.rows }
}

/**
 * Workload 3's protocol, shared by the systems that have query definitions: warm up, then time
 * the same definition (per call and one per macrotask), a fresh definition each call, and the
 * same definition while subscribed.
 */
export async function measureQueryDefs(
  n: number,
  expectedRows: number,
  ops: { readSame: () => unknown; readFresh: () => unknown; subscribe: () => () => void },
): Promise<Record<string, number>> {
  await warmUp(300, ops.readFresh)
  await warmUp(100, ops.readSame)
  const same = timeReads(n, expectedRows, ops.readSame)
  const perTask = await timeReadsPerTask(n, expectedRows, ops.readSame)
  const fresh = timeReads(n, expectedRows, ops.readFresh)
  const stop = ops.subscribe()
  const subscribed = timeReads(n, expectedRows, ops.readSame)
  stop()
  return {
    same_mean_us: same.mean,
    same_p50_us: same.p50,
    same_p99_us: same.p99,
    same_task_mean_us: perTask.mean,
    sub_mean_us: subscribed.mean,
    sub_p99_us: subscribed.p99,
    fresh_mean_us: fresh.mean,
    fresh_p50_us: fresh.p50,
    fresh_p99_us: fresh.p99,
  }
}
