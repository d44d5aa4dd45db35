import { queryDb, signal, type Store, type TableDef } from '@cairn/core'
import { useQuery, useStore } from '@cairn/react'
import { useVirtualizer } from '@tanstack/react-virtual'
import { useEffect, useMemo, useRef, useState } from 'react'
import { formatCell } from '../format.ts'

const ROW_HEIGHT = 28
/** Rows read around the visible ones: scrolling within them needs no query. */
const WINDOW = 240

/** Tables: every table of the schema, live; each one reads only the rows on screen. */
export function TablesView(props: { readonly store: Store }) {
  const tables = useMemo(() => [...props.store.schema.tablesByName.values()], [props.store.schema])
  const [selected, setSelected] = useState(tables[0]?.name)
  const table = tables.find((t) => t.name === selected) ?? tables[0]
  if (table === undefined) return <p className="empty">This schema has no tables.</p>
  return (
    <div className="tables">
      <nav className="tabs secondary" aria-label="Tables" role="tablist">
        {tables.map((t) => (
          <TableTab key={t.name} table={t} active={t === table} onSelect={() => setSelected(t.name)} />
        ))}
      </nav>
      <TableGrid key={`${table.name}`} table={table} />
    </div>
  )
}

/** Queries of one table, made once per table definition so every view shares their instances. */
const tableQueries = new WeakMap<TableDef, ReturnType<typeof makeTableQueries>>()
function queriesOf(table: TableDef) {
  let q = tableQueries.get(table)
  if (q === undefined) {
    q = makeTableQueries(table)
    tableQueries.set(table, q)
  }
  return q
}

function makeTableQueries(table: TableDef) {
  const window$ = signal({ offset: 0, limit: WINDOW }, { label: `${table.name} window` })
  const count$ = queryDb(table.count(), { label: `${table.name} count` })
  const order = table.primaryKey[0]
  const rows$ = queryDb(
    (get) => {
      const { offset, limit } = get(window$)
      const q = order === undefined ? table : table.orderBy(order)
      return q.limit(limit).offset(offset)
    },
    { label: `${table.name} rows` },
  )
  return { window$, count$, rows$ }
}

function TableTab(props: { readonly table: TableDef; readonly active: boolean; readonly onSelect: () => void }) {
  const count = useQuery(queriesOf(props.table).count$)
  return (
    <button role="tab" aria-selected={props.active} className={props.active ? 'active' : ''} onClick={props.onSelect} data-testid={`table-tab-${props.table.name}`}>
      <span className="mono">{props.table.name}</span> <span className="count" data-testid={`table-count-${props.table.name}`}>{count}</span>
      {props.table.clientOnly ? <span className="tag">client-only</span> : null}
    </button>
  )
}

function TableGrid(props: { readonly table: TableDef }) {
  const { table } = props
  const { window$, count$, rows$ } = queriesOf(table)
  const count = useQuery(count$)
  const rows = useQuery(rows$) as readonly Record<string, unknown>[]
  const win = useQuery(window$)
  const columns = Object.keys(table.columns)
  const scroller = useRef<HTMLDivElement>(null)
  const virtualizer = useVirtualizer({ count, getScrollElement: () => scroller.current, estimateSize: () => ROW_HEIGHT, overscan: 12 })
  const items = virtualizer.getVirtualItems()
  const first = items[0]?.index ?? 0
  const last = items[items.length - 1]?.index ?? 0
  const store = useStore()

  useEffect(() => {
    // move the window only when the visible rows leave it
    if (first >= win.offset && last < win.offset + win.limit) return
    const offset = Math.max(0, Math.floor((first + last) / 2) - WINDOW / 2)
    store.setSignal(window$, { offset, limit: WINDOW })
  }, [first, last, win, store, window$])

  const template = `repeat(${columns.length}, minmax(8rem, 1fr))`
  return (
    <div className="grid" data-testid={`table-${table.name}`}>
      <div className="grid-head" style={{ gridTemplateColumns: template }} role="row">
        {columns.map((c) => (
          <div key={c} role="columnheader" className="mono">
            {c}
            {table.primaryKey.includes(c) ? <span className="muted"> · key</span> : null}
          </div>
        ))}
      </div>
      <div className="grid-body" ref={scroller} tabIndex={0} aria-label={`${table.name} rows`} data-testid={`table-scroll-${table.name}`}>
        {count === 0 ? <p className="empty">No rows yet: commit an event that writes {table.name}.</p> : null}
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
          {items.map((item) => {
            const row = rows[item.index - win.offset]
            return (
              <div
                key={item.key}
                role="row"
                className="grid-row"
                data-index={item.index}
                style={{ gridTemplateColumns: template, height: ROW_HEIGHT, transform: `translateY(${item.start}px)` }}
              >
                {columns.map((c) => (
                  <div key={c} role="cell" className="mono">
                    {row === undefined ? '…' : formatCell(row[c])}
                  </div>
                ))}
              </div>
            )
          })}
        </div>
      </div>
      <div className="muted small grid-foot">
        {count.toLocaleString()} rows · reading rows {win.offset.toLocaleString()}–{Math.min(count, win.offset + win.limit).toLocaleString()} (query{' '}
        <span className="mono">{table.name} rows</span>)
      </div>
    </div>
  )
}
