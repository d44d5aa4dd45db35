// The metric catalogue and the markdown table.
import type { SystemId, WorkloadId } from './params.ts'
import { median } from './stats.ts'

export interface MetricDef {
  readonly id: string
  readonly label: string
  /** A total that grows with N: not comparable when systems ran with different N. */
  readonly total?: boolean
  /** A count where 0 is the goal; ratios are not shown. */
  readonly count?: boolean
}

export interface WorkloadDef {
  readonly id: WorkloadId
  readonly title: (n: number) => string
  /** What N counts in this workload. */
  readonly nLabel: string
  readonly metrics: readonly MetricDef[]
}

const fmtN = (n: number) => n.toLocaleString('en-US')

export const WORKLOAD_DEFS: readonly WorkloadDef[] = [
  {
    id: 'w1',
    title: (n) => `1. ${fmtN(n)} single-event commits, 10 todo + 90 unrelated subscriptions`,
    nLabel: 'N (commits)',
    metrics: [
      { id: 'import_ms', label: 'module import (ms; Cairn includes tsx transpiling its TS sources)' },
      { id: 'boot_ms', label: 'boot, empty in-memory store (ms)' },
      { id: 'commit_p50_us', label: 'commit p50 (µs, synchronous call incl. query re-runs)' },
      { id: 'commit_p99_us', label: 'commit p99 (µs)' },
      { id: 'commit_mean_us', label: 'commit mean (µs)' },
      { id: 'drain_ms', label: 'after the loop, until durable (ms) †', total: true },
      { id: 'events_per_s', label: 'events/s incl. durable write' },
      { id: 'relevant_reruns_per_commit', label: 'todo query re-runs per commit (10 subscribed)', count: true },
      { id: 'relevant_callbacks_per_commit', label: 'todo subscriber calls per commit', count: true },
      { id: 'unrelated_reruns', label: 'unrelated query re-runs, all commits', count: true },
      { id: 'unrelated_callbacks', label: 'unrelated subscriber calls, all commits', count: true },
      { id: 'rss_mb', label: 'peak RSS (MB)', total: true },
    ],
  },
  {
    id: 'w2',
    title: (n) => `2. one commit of ${fmtN(n)} events`,
    nLabel: 'N (events)',
    metrics: [
      { id: 'commit_ms', label: 'creating the events + commit call (ms, synchronous part) †', total: true },
      {
        id: 'create_ms',
        label: "of which creating the events (ms; Cairn validates and copies the args here; LiveStore's events are made before its timer, raw has none) †",
        total: true,
      },
      { id: 'store_ms', label: 'of which the commit call (ms; raw: its inserts) †', total: true },
      { id: 'total_ms', label: 'total until durable (ms) †', total: true },
      { id: 'events_per_s', label: 'events/s incl. durable write' },
      {
        id: 'validate_ms',
        label: "for reference: Zod validation of the same args alone, cold (ms; done while Cairn creates the events, not by raw) †",
        total: true,
      },
      { id: 'rss_mb', label: 'peak RSS (MB)', total: true },
    ],
  },
  {
    id: 'w3',
    title: (n) => `3. query \`todos where completed = false order by text limit 50\` on ${fmtN(n)} rows`,
    nLabel: 'N (rows)',
    metrics: [
      { id: 'same_mean_us', label: '(a) same definition, tables unchanged, mean (µs)' },
      { id: 'same_p50_us', label: '(a) same definition, p50 (µs)' },
      { id: 'same_p99_us', label: '(a) same definition, p99 (µs)' },
      { id: 'same_task_mean_us', label: '(a) same definition, one read per macrotask, mean (µs)' },
      { id: 'sub_mean_us', label: '(a) same definition while subscribed, mean (µs)' },
      { id: 'fresh_mean_us', label: '(b) fresh definition each call (raw: fresh bind), mean (µs)' },
      { id: 'fresh_p50_us', label: '(b) fresh, p50 (µs)' },
      { id: 'fresh_p99_us', label: '(b) fresh, p99 (µs)' },
    ],
  },
  {
    id: 'w4',
    title: () => '4. commit one todoCompleted until the 10 todo subscribers ran (90 unrelated subscribed)',
    nLabel: 'N (commits)',
    metrics: [
      { id: 'latency_mean_us', label: 'commit -> 10 callbacks, mean (µs)' },
      { id: 'latency_p50_us', label: 'commit -> 10 callbacks, p50 (µs)' },
      { id: 'latency_p99_us', label: 'commit -> 10 callbacks, p99 (µs)' },
      { id: 'control_mean_us', label: 'control: the same without the 90 unrelated subs, mean (µs)' },
      { id: 'relevant_callbacks_per_commit', label: 'todo subscriber calls per commit', count: true },
      { id: 'unrelated_reruns', label: 'unrelated query re-runs, all commits', count: true },
      { id: 'unrelated_callbacks', label: 'unrelated subscriber calls, all commits', count: true },
    ],
  },
  {
    id: 'w5',
    title: (n) => `5. boot a store whose leader holds ${fmtN(n)} events (snapshot, no replay)`,
    nLabel: 'N (events)',
    metrics: [
      { id: 'setup_ms', label: 'setup: commit N events until durable (ms) †', total: true },
      { id: 'boot_ms', label: 'boot, first (ms) †', total: true },
      { id: 'boot_median_ms', label: 'boot, median of the next ones (ms) †', total: true },
      { id: 'rows_after_boot', label: 'todos visible after boot †', total: true, count: true },
      { id: 'rss_mb', label: 'peak RSS (MB)', total: true },
    ],
  },
  {
    id: 'w6',
    title: () => '6. rebase: K pending todoCreated events, one foreign event arrives (roll back, apply it, replay K, rewrite the log)',
    nLabel: 'rebases per K',
    metrics: [
      { id: 'rebase_1_ms', label: 'K = 1, median (ms)' },
      { id: 'rebase_100_ms', label: 'K = 100, median (ms)' },
      { id: 'rebase_1000_ms', label: 'K = 1,000, median (ms)' },
      { id: 'rebase_1000_per_event_us', label: 'K = 1,000, per replayed event (µs)' },
    ],
  },
]

/** One cell's data: per-rep values, or why it failed. */
export interface Cell {
  readonly values?: readonly number[]
  readonly failed?: string
}

export interface SystemOutcome {
  readonly n?: number
  readonly metrics: Record<string, Cell>
  readonly failed?: string
  readonly notes: readonly string[]
  readonly wallMs: number
}

export type Outcomes = Partial<Record<WorkloadId, Partial<Record<SystemId, SystemOutcome>>>>

/** 3 significant digits, thousands separators, no exponent. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v)
  if (v === 0) return '0'
  const abs = Math.abs(v)
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : Math.min(6, 2 - Math.floor(Math.log10(abs)))
  return v.toLocaleString('en-US', { minimumFractionDigits: 0, maximumFractionDigits: digits })
}

function cellText(outcome: SystemOutcome | undefined, id: string): string {
  if (outcome === undefined) return '—'
  if (outcome.failed !== undefined) return `failed: ${escapeCell(outcome.failed)}`
  const cell = outcome.metrics[id]
  if (cell === undefined) return 'n/a'
  if (cell.failed !== undefined) return `failed: ${escapeCell(cell.failed)}`
  const values = cell.values!
  if (values.length === 1) return fmt(values[0]!)
  return `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`
}

function value(outcome: SystemOutcome | undefined, id: string): number | undefined {
  const values = outcome?.failed === undefined ? outcome?.metrics[id]?.values : undefined
  return values !== undefined && values.length > 0 ? median(values) : undefined
}

function ratio(metric: MetricDef, a: SystemOutcome | undefined, b: SystemOutcome | undefined): string {
  if (metric.count === true) return 'n/a'
  const x = value(a, metric.id)
  const y = value(b, metric.id)
  if (x === undefined || y === undefined || y === 0) return 'n/a'
  if (metric.total === true && a?.n !== b?.n) return 'n/a (N differs)'
  const r = x / y
  return `${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r >= 0.01 ? r.toFixed(2) : r.toPrecision(2)}×`
}

const escapeCell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ')

export function renderTable(outcomes: Outcomes, workloads: readonly WorkloadId[]): string {
  const lines = [
    '| workload | metric | cairn | raw sqlite-wasm | livestore | cairn/raw | cairn/livestore |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ]
  for (const def of WORKLOAD_DEFS) {
    if (!workloads.includes(def.id)) continue
    const o = outcomes[def.id] ?? {}
    const title = escapeCell(def.title(o.cairn?.n ?? o.raw?.n ?? o.livestore?.n ?? 0))
    const nCell = (s: SystemOutcome | undefined) => (s?.n === undefined ? '—' : fmtN(s.n))
    const lsN = o.livestore?.n
    const reference = o.cairn?.n ?? o.raw?.n
    const lsMark = lsN !== undefined && reference !== undefined && lsN !== reference ? ' (smaller N)' : ''
    lines.push(`| ${title} | ${def.nLabel} | ${nCell(o.cairn)} | ${nCell(o.raw)} | ${nCell(o.livestore)}${lsMark} | | |`)
    for (const metric of def.metrics) {
      const cells = [cellText(o.cairn, metric.id), cellText(o.raw, metric.id), cellText(o.livestore, metric.id)]
      if (cells.every((c) => c === 'n/a' || c === '—')) continue
      lines.push(`| | ${metric.label} | ${cells.join(' | ')} | ${ratio(metric, o.cairn, o.raw)} | ${ratio(metric, o.cairn, o.livestore)} |`)
    }
  }
  return lines.join('\n')
}
