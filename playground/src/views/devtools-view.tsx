import type { InstanceInfo, Store } from '@cairn/core'
import { useTicker } from '../use-ticker.ts'

interface GraphNode {
  readonly id: string
  readonly label: string
  readonly kind: 'table' | 'signal' | 'query' | 'computed'
  readonly runs: number | undefined
  readonly refs: number | undefined
  readonly inputs: readonly string[]
}

/** What an instance reads: its tables (their version signals) and the definitions it read through `get`. */
function inputsOf(info: InstanceInfo): string[] {
  return [...info.tables.map((t) => `table:${t}`), ...info.dependencies.map((d) => `def:${d}`)]
}

/** Builds the signal graph of a store: tables (version signals) → queries → computeds, by label. */
export function signalGraph(infos: readonly InstanceInfo[]): GraphNode[] {
  const tables = new Set(infos.flatMap((i) => i.tables))
  return [
    ...[...tables].sort().map((t) => ({ id: `table:${t}`, label: t, kind: 'table' as const, runs: undefined, refs: undefined, inputs: [] })),
    ...infos.map((i) => ({ id: `def:${i.label}`, label: i.label, kind: i.kind as GraphNode['kind'], runs: i.runs, refs: i.refs, inputs: inputsOf(i) })),
  ]
}

const COLUMN: Record<GraphNode['kind'], number> = { table: 0, signal: 1, query: 2, computed: 3 }
const COLUMN_TITLES = ['tables (version signals)', 'signals', 'queries', 'computeds']
const NODE_W = 210
const NODE_H = 42
const GAP_X = 70
const GAP_Y = 14

/** Devtools: the store's live signal graph with run and reference counts, refreshed 4 times a second. */
export function DevtoolsView(props: { readonly store: Store }) {
  useTicker(250)
  const infos = props.store.inspect()
  const nodes = signalGraph(infos)
  const rows = [0, 0, 0, 0]
  const position = new Map<string, { x: number; y: number }>()
  for (const n of nodes) {
    const c = COLUMN[n.kind]
    position.set(n.id, { x: 10 + c * (NODE_W + GAP_X), y: 34 + rows[c]! * (NODE_H + GAP_Y) })
    rows[c]!++
  }
  const height = 44 + Math.max(1, ...rows) * (NODE_H + GAP_Y)
  const width = 20 + 4 * NODE_W + 3 * GAP_X
  return (
    <div className="devtools">
      <p className="muted small">
        Every live instance in client store <span className="mono">{props.store.clientId}</span>: a commit bumps the version signals of the tables it wrote;
        only queries reading them re-run, and an equal result stops there. Add queries in the Queries tab, commit, and watch the run counts.
      </p>
      <div className="graph-scroll panel">
        <svg width={width} height={height} role="img" aria-label="Signal graph" data-testid="signal-graph">
          {COLUMN_TITLES.map((t, i) => (
            <text key={t} x={10 + i * (NODE_W + GAP_X)} y={18} className="graph-title">
              {t}
            </text>
          ))}
          {nodes.flatMap((n) =>
            n.inputs.map((input) => {
              const from = position.get(input)
              const to = position.get(n.id)!
              if (from === undefined) return null
              const x1 = from.x + NODE_W
              const y1 = from.y + NODE_H / 2
              const x2 = to.x
              const y2 = to.y + NODE_H / 2
              const mid = (x1 + x2) / 2
              return <path key={`${input}->${n.id}`} d={`M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`} className="graph-edge" />
            }),
          )}
          {nodes.map((n) => {
            const p = position.get(n.id)!
            return (
              <g key={n.id} transform={`translate(${p.x},${p.y})`} className={`graph-node ${n.kind}`} data-testid="graph-node" data-label={n.label}>
                <rect width={NODE_W} height={NODE_H} rx={6} />
                <text x={10} y={17} className="mono">
                  {n.label.length > 28 ? `${n.label.slice(0, 27)}…` : n.label}
                </text>
                <text x={10} y={33} className="graph-meta">
                  {n.kind === 'table' ? 'table version' : `${n.kind} · runs ${n.runs} · refs ${n.refs}`}
                </text>
              </g>
            )
          })}
        </svg>
      </div>
      <table className="devtools-table">
        <thead>
          <tr>
            <th>label</th>
            <th>kind</th>
            <th>runs</th>
            <th>refs</th>
            <th>reads</th>
          </tr>
        </thead>
        <tbody>
          {infos.map((i) => (
            <tr key={`${i.kind}:${i.label}`} data-testid="instance-row" data-label={i.label}>
              <td className="mono">{i.label}</td>
              <td>{i.kind}</td>
              <td className="mono" data-testid="instance-runs">
                {i.runs}
              </td>
              <td className="mono">{i.refs}</td>
              <td className="mono">{inputsOf(i).map((x) => x.replace(/^(table|def):/, '')).join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
