import { SchemaError } from '../errors.ts'
import { quoteId, toSqlValue } from '../sqlite/sql.ts'
import type { AnyColumn } from './columns.ts'
import { isSqlDefault, QueryBuilder, tableInfo, type Columns, type InsertOf, type RowOf, type TableInfo } from './query-builder.ts'

export interface IndexDefinition<TName extends string = string> {
  readonly name: string
  readonly columns: readonly TName[]
  readonly isUnique?: boolean
}

export interface TableOptions<TName extends string, TCols extends Columns> {
  readonly name: TName
  readonly columns: TCols
  /** A composite primary key; use `primaryKey: true` on a column for a single-column key. */
  readonly primaryKey?: readonly (keyof TCols & string)[]
  readonly indexes?: readonly IndexDefinition<keyof TCols & string>[]
  /** Written only by client-only events; never part of the synced state. */
  readonly clientOnly?: boolean
}

/**
 * A state table: its definition plus a query builder that selects all its rows.
 * `Row` and `Insert` are type carriers: `typeof tables.todos.Row`.
 */
export type TableDef<TName extends string = string, TCols extends Columns = Columns> = QueryBuilder<TCols, RowOf<TCols>> & {
  readonly name: TName
  readonly columns: TCols
  readonly primaryKey: readonly string[]
  readonly indexes: readonly IndexDefinition[]
  readonly clientOnly: boolean
  readonly info: TableInfo
  readonly Row: RowOf<TCols>
  readonly Insert: InsertOf<TCols>
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Defines a state table.
 *
 * @example
 * const todos = State.SQLite.table({
 *   name: 'todos',
 *   columns: { id: State.SQLite.text({ primaryKey: true }), text: State.SQLite.text({ default: '' }) },
 *   indexes: [{ name: 'todos_text', columns: ['text'] }],
 * })
 */
export function table<const TName extends string, const TCols extends Columns>(
  options: TableOptions<TName, TCols>,
): TableDef<TName, TCols> {
  const { name, columns } = options
  if (!NAME.test(name)) throw new SchemaError(`Table name ${JSON.stringify(name)} must be a plain identifier (letters, digits, _).`)
  if (name.startsWith('__cairn')) throw new SchemaError(`Table name "${name}" is reserved: names starting with __cairn belong to Cairn.`)
  const names = Object.keys(columns)
  if (names.length === 0) throw new SchemaError(`Table "${name}" needs at least one column.`)
  for (const c of names) {
    if (!NAME.test(c)) throw new SchemaError(`Column ${JSON.stringify(c)} of table "${name}" must be a plain identifier.`)
    const col = columns[c]!
    if (col.autoIncrement && !(col.primaryKey && col.kind === 'integer')) {
      throw new SchemaError(`${name}.${c}: autoIncrement needs an integer primary key column.`)
    }
  }
  const columnKey = names.filter((c) => columns[c]!.primaryKey)
  if (columnKey.length > 0 && options.primaryKey !== undefined) {
    throw new SchemaError(
      `Table "${name}" declares its primary key twice: use either primaryKey: true on one column or the table's primaryKey option.`,
    )
  }
  if (columnKey.length > 1) {
    throw new SchemaError(
      `Table "${name}" marks ${columnKey.join(', ')} as primaryKey; for a composite key use the table option primaryKey: [${columnKey.map((c) => `'${c}'`).join(', ')}].`,
    )
  }
  const primaryKey = options.primaryKey ?? columnKey
  for (const c of primaryKey) if (!(c in columns)) throw new SchemaError(`Primary key column "${c}" is not a column of table "${name}".`)
  const indexes = options.indexes ?? []
  for (const index of indexes) {
    if (!NAME.test(index.name))
      throw new SchemaError(`Index name ${JSON.stringify(index.name)} on table "${name}" must be a plain identifier.`)
    if (index.columns.length === 0) throw new SchemaError(`Index "${index.name}" on table "${name}" needs at least one column.`)
    for (const c of index.columns)
      if (!(c in columns)) throw new SchemaError(`Index "${index.name}" names "${c}", which is not a column of table "${name}".`)
  }
  const info = tableInfo(name, columns, primaryKey)
  const builder = new QueryBuilder<TCols, RowOf<TCols>>(info)
  return Object.assign(builder, { name, columns, primaryKey, indexes, clientOnly: options.clientOnly ?? false }) as unknown as TableDef<
    TName,
    TCols
  >
}

/** The DDL creating a table and its indexes; also the input of the schema hash. */
export function tableDdl(def: Pick<TableDef, 'name' | 'columns' | 'primaryKey' | 'indexes'>): string[] {
  const cols = Object.entries(def.columns).map(([n, c]) => columnDdl(n, c, def.primaryKey))
  if (def.primaryKey.length > 1) cols.push(`PRIMARY KEY (${def.primaryKey.map(quoteId).join(', ')})`)
  const out = [`CREATE TABLE ${quoteId(def.name)} (${cols.join(', ')})`]
  for (const index of def.indexes) {
    out.push(
      `CREATE ${index.isUnique ? 'UNIQUE ' : ''}INDEX ${quoteId(index.name)} ON ${quoteId(def.name)} (${index.columns.map(quoteId).join(', ')})`,
    )
  }
  return out
}

function columnDdl(name: string, col: AnyColumn, primaryKey: readonly string[]): string {
  let s = `${quoteId(name)} ${col.sqlType}`
  if (primaryKey.length === 1 && primaryKey[0] === name) {
    s += ' PRIMARY KEY'
    if (col.autoIncrement) s += ' AUTOINCREMENT'
  }
  if (!col.nullable && !col.autoIncrement) s += ' NOT NULL'
  const d = col.default
  if (d !== undefined && typeof d !== 'function') {
    // plain defaults are also written into the DDL so raw SQL inserts see them
    s += ` DEFAULT (${isSqlDefault(d) ? d.sql : sqlLiteral(col, d)})`
  }
  return s
}

function sqlLiteral(col: AnyColumn, value: unknown): string {
  const v =
    col.kind === 'json'
      ? JSON.stringify(value)
      : col.kind === 'datetimeInteger' && value instanceof Date
        ? value.getTime()
        : toSqlValue(value)
  if (v === null) return 'NULL'
  if (typeof v === 'number' || typeof v === 'bigint') return String(v)
  if (v instanceof Uint8Array) return `X'${[...v].map((b) => b.toString(16).padStart(2, '0')).join('')}'`
  return `'${v.replaceAll("'", "''")}'`
}
