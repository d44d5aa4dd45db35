import { queryDb, signal, type LiveQueryDef, type Store, type TableDef } from '@cairn/core'
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

/** The row count of each table, one definition per table so every view shares its instance. */
const counts = new WeakMap<TableDef, LiveQueryDef<number>>()
function countOf(table: TableDef): LiveQueryDef<number> {
  let q = counts.get(table)
  if (q === undefined) {
    q = queryDb(table.count(), { label: `${table.name} count` })
    counts.set(table, q)
  }
  return q
}

/**
 * Every rowid of a table, in order (one definition per table, shared). A window then starts at
 * `rowids[offset]` and reads through the rowid index: `OFFSET n` would step through all n rows
 * before it, which is what made jumps in a 100,000-row table slow.
 */
const rowidLists = new WeakMap<TableDef, LiveQueryDef<readonly number[]>>()
function rowidsOf(table: TableDef): LiveQueryDef<readonly number[]> {
  let q = rowidLists.get(table)
  if (q === undefined) {
    q = queryDb(
      { query: `SELECT rowid AS r FROM "${table.name}" ORDER BY rowid` },
      { label: `${table.name} rowids`, map: (rows: unknown) => (rows as readonly { r: number }[]).map((row) => row.r) },
    )
    rowidLists.set(table, q)
  }
  return q
}

/** A raw row as the query builder would give it: booleans and JSON columns decoded. */
function decodeRow(table: TableDef, row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, column] of Object.entries(table.columns as Record<string, { readonly kind: string }>)) {
    const value = row[name]
    out[name] =
      value === null || value === undefined
        ? value
        : column.kind === 'boolean'
          ? value === 1
          : column.kind === 'json' && typeof value === 'string'
            ? (JSON.parse(value) as unknown)
            : value
  }
  return out
}

let grids = 0

/**
 * The rows one grid shows: its own window signal (two grids on one table scroll apart) and a
 * query of the rows in that window.
 */
function makeWindowQueries(table: TableDef) {
  const id = ++grids
  const window$ = signal({ offset: 0, limit: WINDOW }, { label: `${table.name} window #${id}` })
  const rowids$ = rowidsOf(table)
  const rows$ = queryDb(
    (get) => {
      const ids = get(rowids$)
      const { offset, limit } = get(window$)
      return {
        query: `SELECT * FROM "${table.name}" WHERE rowid >= ? ORDER BY rowid LIMIT ?`,
        bindValues: [ids[Math.min(offset, ids.length - 1)] ?? 0, limit],
      }
    },
    { label: `${table.name} rows #${id}`, map: (rows: unknown) => (rows as Record<string, unknown>[]).map((row) => decodeRow(table, row)) },
  )
  return { window$, rows$, rowids$ }
}

function TableTab(props: { readonly table: TableDef; readonly active: boolean; readonly onSelect: () => void }) {
  const count = useQuery(countOf(props.table))
  return (
    <button role="tab" aria-selected={props.active} className={props.active ? 'active' : ''} onClick={props.onSelect} data-testid={`table-tab-${props.table.name}`}>
      <span className="mono">{props.table.name}</span> <span className="count" data-testid={`table-count-${props.table.name}`}>{count}</span>
      {props.table.clientOnly ? <span className="tag">client-only</span> : null}
    </button>
  )
}

function TableGrid(props: { readonly table: TableDef }) {
  const { table } = props
  const { window$, rows$, rowids$ } = useMemo(() => makeWindowQueries(table), [table])
  const count = useQuery(rowids$).length
  const rows = useQuery(rows$) as readonly Record<string, unknown>[]
  const win = useQuery(window$)
  const columns = Object.keys(table.columns)
  const scroller = useRef<HTMLDivElement>(null)
  const virtualizer = useVirtualizer({ count, getScrollElement: () => scroller.current, estimateSize: () => ROW_HEIGHT, overscan: 6 })
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
              // keyed by screen slot, not row: a jump reuses the row elements instead of rebuilding them
              <div
                key={item.index % items.length}
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
        <span className="mono">{rows$.label}</span>)
      </div>
    </div>
  )
}
