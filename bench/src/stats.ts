/** Summary statistics over samples (µs or ms, whatever the caller measured). */
export interface Summary {
  readonly mean: number
  readonly p50: number
  readonly p99: number
  readonly min: number
  readonly max: number
}

export function summarize(samples: ArrayLike<number>): Summary {
  const n = samples.length
  if (n === 0) return { mean: NaN, p50: NaN, p99: NaN, min: NaN, max: NaN }
  const sorted = Float64Array.from(samples).sort()
  let sum = 0
  for (let i = 0; i < n; i++) sum += sorted[i]!
  return { mean: sum / n, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), min: sorted[0]!, max: sorted[n - 1]! }
}

/** Nearest-rank quantile of sorted samples. */
function quantile(sorted: Float64Array, q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[i]!
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** Peak resident set size of this process so far, in MB. */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024
}

/**
 * CPU time (user + system, every thread of the process) since `start` in ms: less distorted than
 * wall time when other processes load the machine (they take cores away, not this work's CPU).
 */
export function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start)
  return (d.user + d.system) / 1000
}
