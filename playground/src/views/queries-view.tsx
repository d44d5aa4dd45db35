import { queryDb, type LiveQueryDef, type Op, type Queryable, type RawQuery, type Store, type TableDef } from '@cairn/core'
import { useEffect, useMemo, useState, type FormEvent } from 'react'
import { formatCell } from '../format.ts'
import { useTicker } from '../use-ticker.ts'

const OPS: readonly Op[] = ['=', '!=', '<', '>', '<=', '>=', 'LIKE', 'NOT LIKE', 'IN', 'NOT IN']

/** A query the person wrote, with the time of its last run (taken around the query itself). */
export interface PlaygroundQuery {
  readonly id: number
  readonly label: string
  readonly sql: string
  readonly def: LiveQueryDef<unknown>
  readonly timing: { lastMs: number | undefined; at: number | undefined }
}

let nextId = 1

/**
 * A live query whose run is timed: the dynamic form runs its function right before the query
 * and `map` right after, so the difference is the query's own run (SQL and row decoding).
 */
export function makeQuery(description: string, query: Queryable<unknown> | RawQuery<unknown>): PlaygroundQuery {
  const id = nextId++
  // labels name instances in the devtools: keep them unique
  const label = `q${id} ${description}`
  const timing: PlaygroundQuery['timing'] = { lastMs: undefined, at: undefined }
  let started = 0
  const def = queryDb(
    () => {
      started = performance.now()
      return query
    },
    {
      label,
      map: (rows: unknown) => {
        timing.lastMs = performance.now() - started
        timing.at = Date.now()
        return rows
      },
    },
  )
  return { id, label, sql: 'asSql' in query ? query.asSql().query : String(query.query), def, timing }
}

interface Condition {
  column: string
  op: Op
  value: string
}

/** Queries: build one (or write SQL), then watch its result, the tables it reads and its runs. */
export function QueriesView(props: { readonly store: Store; readonly queries: readonly PlaygroundQuery[]; readonly onChange: (q: readonly PlaygroundQuery[]) => void }) {
  const { store, queries, onChange } = props
  return (
    <div className="queries">
      <QueryBuilderForm store={store} onAdd={(q) => onChange([q, ...queries])} />
      {queries.length === 0 ? <p className="empty">No queries yet. Build one above; it stays live while you commit.</p> : null}
      {queries.map((q) => (
        <QueryCard key={q.id} store={store} query={q} onRemove={() => onChange(queries.filter((x) => x !== q))} />
      ))}
    </div>
  )
}

function QueryBuilderForm(props: { readonly store: Store; readonly onAdd: (q: PlaygroundQuery) => void }) {
  const tables = useMemo(() => [...props.store.schema.tablesByName.values()], [props.store.schema])
  const [mode, setMode] = useState<'builder' | 'sql'>('builder')
  const [tableName, setTableName] = useState(tables[0]?.name ?? '')
  const table = tables.find((t) => t.name === tableName) ?? tables[0]
  const columns = table === undefined ? [] : Object.keys(table.columns)
  const [conditions, setConditions] = useState<Condition[]>([])
  const [orderBy, setOrderBy] = useState('')
  const [desc, setDesc] = useState(false)
  const [limit, setLimit] = useState('')
  const [sqlText, setSqlText] = useState(`SELECT * FROM ${tables[0]?.name ?? 'sqlite_master'}`)
  const [error, setError] = useState<string | undefined>()

  useEffect(() => {
    setConditions([])
    setOrderBy('')
  }, [tableName])

  const built = useMemo(() => {
    if (table === undefined) return undefined
    try {
      return { query: buildQuery(table, conditions, orderBy, desc, limit) }
    } catch (e) {
      return { error: (e as Error).message }
    }
  }, [table, conditions, orderBy, desc, limit])

  const submit = (e: FormEvent) => {
    e.preventDefault()
    setError(undefined)
    try {
      if (mode === 'sql') {
        const text = sqlText.trim()
        if (text === '') throw new Error('Write a SELECT statement.')
        props.onAdd(makeQuery(text.length > 48 ? `${text.slice(0, 47)}…` : text, { query: text }))
      } else {
        if (built === undefined || built.query === undefined) throw new Error(built?.error ?? 'Pick a table.')
        props.onAdd(makeQuery(describe(tableName, conditions, orderBy, desc, limit), built.query))
      }
    } catch (err) {
      setError((err as Error).message)
    }
  }

  return (
    <form className="query-builder panel" onSubmit={submit} data-testid="query-builder">
      <div className="row">
        <div className="segmented" role="radiogroup" aria-label="Query kind">
          <button type="button" role="radio" aria-checked={mode === 'builder'} className={mode === 'builder' ? 'active' : ''} onClick={() => setMode('builder')}>
            Builder
          </button>
          <button type="button" role="radio" aria-checked={mode === 'sql'} className={mode === 'sql' ? 'active' : ''} onClick={() => setMode('sql')} data-testid="query-mode-sql">
            SQL
          </button>
        </div>
        {mode === 'builder' ? (
          <>
            <label>
              from{' '}
              <select value={tableName} onChange={(e) => setTableName(e.target.value)} data-testid="query-table">
                {tables.map((t) => (
                  <option key={t.name}>{t.name}</option>
                ))}
              </select>
            </label>
            <button type="button" onClick={() => setConditions((c) => [...c, { column: columns[0] ?? '', op: '=', value: '' }])} data-testid="query-add-where">
              + where
            </button>
            <label>
              order by{' '}
              <select value={orderBy} onChange={(e) => setOrderBy(e.target.value)}>
                <option value="">(none)</option>
                {columns.map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
            </label>
            <label>
              <input type="checkbox" checked={desc} onChange={(e) => setDesc(e.target.checked)} /> desc
            </label>
            <label>
              limit <input className="narrow" type="number" min={0} value={limit} onChange={(e) => setLimit(e.target.value)} />
            </label>
          </>
        ) : null}
      </div>
      {mode === 'builder' ? (
        <>
          {conditions.map((c, i) => (
            <div className="row" key={i}>
              <span className="muted">where</span>
              <select value={c.column} onChange={(e) => setConditions(update(conditions, i, { column: e.target.value }))} aria-label="column">
                {columns.map((col) => (
                  <option key={col}>{col}</option>
                ))}
              </select>
              <select value={c.op} onChange={(e) => setConditions(update(conditions, i, { op: e.target.value as Op }))} aria-label="operator">
                {OPS.map((op) => (
                  <option key={op}>{op}</option>
                ))}
              </select>
              <input value={c.value} onChange={(e) => setConditions(update(conditions, i, { value: e.target.value }))} placeholder="value (null, 42, a,b for IN)" aria-label="value" data-testid={`query-where-value-${i}`} />
              <button type="button" onClick={() => setConditions(conditions.filter((_, j) => j !== i))} aria-label="remove condition">
                ×
              </button>
            </div>
          ))}
          <pre className="mono small sql-preview">{built?.query?.asSql().query ?? built?.error}</pre>
        </>
      ) : (
        <textarea className="mono" rows={3} value={sqlText} onChange={(e) => setSqlText(e.target.value)} aria-label="SQL" data-testid="query-sql" onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.metaKey || e.ctrlKey)) submit(e)
        }} />
      )}
      <div className="row">
        <button type="submit" className="primary" data-testid="query-add">
          Add live query
        </button>
        {error !== undefined ? <span className="error small">{error}</span> : null}
      </div>
    </form>
  )
}

function update(list: Condition[], i: number, patch: Partial<Condition>): Condition[] {
  return list.map((c, j) => (j === i ? { ...c, ...patch } : c))
}

function parseValue(text: string, op: Op, kind: string | undefined): unknown {
  if (op === 'IN' || op === 'NOT IN') return text.split(',').map((t) => parseValue(t.trim(), '=', kind))
  if (text === 'null') return null
  if (kind === 'integer' || kind === 'real' || kind === 'datetimeInteger') return Number(text)
  if (kind === 'boolean') return text === 'true' || text === '1'
  return text
}

/** The builder's methods the form calls, with columns and values known only at run time. */
interface DynamicBuilder extends Queryable<unknown> {
  where(column: string, op: Op, value: unknown): DynamicBuilder
  orderBy(column: string, direction: 'asc' | 'desc'): DynamicBuilder
  limit(n: number): DynamicBuilder
}

function buildQuery(table: TableDef, conditions: readonly Condition[], orderBy: string, desc: boolean, limit: string): Queryable<unknown> {
  let q = table as unknown as DynamicBuilder
  for (const c of conditions) {
    const kind = (table.columns as Record<string, { kind: string }>)[c.column]?.kind
    q = q.where(c.column, c.op, parseValue(c.value, c.op, kind))
  }
  if (orderBy !== '') q = q.orderBy(orderBy, desc ? 'desc' : 'asc')
  if (limit !== '') q = q.limit(Number(limit))
  return q
}

function describe(table: string, conditions: readonly Condition[], orderBy: string, desc: boolean, limit: string): string {
  const where = conditions.map((c) => `${c.column} ${c.op} ${c.value}`).join(' and ')
  return [table, where && `where ${where}`, orderBy && `by ${orderBy}${desc ? ' desc' : ''}`, limit && `limit ${limit}`].filter(Boolean).join(' ')
}

function QueryCard(props: { readonly store: Store; readonly query: PlaygroundQuery; readonly onRemove: () => void }) {
  const { store, query } = props
  const [result, setResult] = useState<{ rows: unknown } | { error: string }>({ rows: [] })
  useEffect(
    () =>
      store.subscribe(query.def, (rows) => setResult({ rows }), {
        onError: (e) => setResult({ error: (e as Error)?.message ?? String(e) }),
      }),
    [store, query],
  )
  // runs also change when a re-run returns an equal result (no notification): poll the devtools view
  useTicker(250)
  const info = store.inspect().find((i) => i.label === query.label && i.kind === 'query')
  const rows = 'rows' in result ? (Array.isArray(result.rows) ? (result.rows as Record<string, unknown>[]) : [result.rows as Record<string, unknown>]) : []
  const columns = rows.length > 0 && typeof rows[0] === 'object' && rows[0] !== null ? Object.keys(rows[0]) : []
  return (
    <section className="panel query-card" data-testid="query-card" aria-label={query.label}>
      <header className="row">
        <h4 className="mono">{query.label}</h4>
        <span className="stat" title="Tables the query reads (its dependencies)">
          reads <b data-testid="query-tables">{info?.tables.join(', ') ?? '–'}</b>
        </span>
        <span className="stat" title="How many times the query ran in this client's store">
          runs <b data-testid="query-runs">{store.runsOf(query.def)}</b>
        </span>
        <span className="stat" title="Duration of the last run: SQL plus decoding rows">
          last run <b data-testid="query-time">{query.timing.lastMs === undefined ? '–' : `${query.timing.lastMs.toFixed(2)} ms`}</b>
        </span>
        <button onClick={props.onRemove} aria-label={`Remove query ${query.label}`} className="ghost">
          ×
        </button>
      </header>
      <pre className="mono small sql-preview">{query.sql}</pre>
      {'error' in result ? (
        <p className="error small" data-testid="query-error">
          {result.error}
        </p>
      ) : (
        <div className="result">
          <table>
            <thead>
              <tr>
                {columns.map((c) => (
                  <th key={c} className="mono">
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody data-testid="query-rows">
              {rows.slice(0, 50).map((r, i) => (
                <tr key={i}>
                  {columns.map((c) => (
                    <td key={c} className="mono">
                      {formatCell(r[c])}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          <p className="muted small" data-testid="query-count">
            {rows.length} {rows.length === 1 ? 'row' : 'rows'}
            {rows.length > 50 ? ' (first 50 shown)' : ''}
          </p>
        </div>
      )}
    </section>
  )
}

