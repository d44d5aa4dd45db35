import { ColumnValueError, SchemaError } from '../errors.ts'
import { quoteId, type SqlFragment, type SqlValue } from '../sqlite/sql.ts'
import type { Row } from '../sqlite/db.ts'
import { decodeColumnValue, encodeColumnValue, needsDecoding, type AnyColumn, type ColumnDefinition } from './columns.ts'

export type Columns = Record<string, AnyColumn>
export type ColumnType<C> = C extends ColumnDefinition<infer T, infer N, boolean> ? (N extends true ? T | null : T) : never
export type RowOf<C extends Columns> = { -readonly [K in keyof C]: ColumnType<C[K]> }
type OptionalKeys<C extends Columns> = { [K in keyof C]: C[K] extends ColumnDefinition<any, boolean, true> ? K : never }[keyof C]
type Simplify<T> = { [K in keyof T]: T[K] } & {}
/** The shape `insert` accepts: defaulted, nullable and auto-increment columns are optional. */
export type InsertOf<C extends Columns> = Simplify<
  { [K in Exclude<keyof C, OptionalKeys<C>>]: ColumnType<C[K]> } & { [K in OptionalKeys<C>]?: ColumnType<C[K]> }
>

/** Comparison operators of `where`. */
export type Op = '=' | '!=' | '<' | '>' | '<=' | '>=' | 'LIKE' | 'NOT LIKE' | 'IN' | 'NOT IN'
type ScalarOp = Exclude<Op, 'IN' | 'NOT IN'>
export type WhereValue<T> =
  T | null | { readonly op: ScalarOp; readonly value: T | null } | { readonly op: 'IN' | 'NOT IN'; readonly value: readonly T[] }
export type WhereObject<R> = { readonly [K in keyof R]?: WhereValue<NonNullable<R[K]>> }

const CONDITION = Symbol('cairn.condition')
/** A disjunction built by `or(...)`, usable wherever `where` takes an object. */
export interface OrCondition<R = any> {
  readonly [CONDITION]: true
  readonly parts: readonly WhereObject<R>[]
  /** Type carrier only: lets `or(...)` take its row type from the `where` it is passed to. */
  readonly '~row'?: R
}

/**
 * Combines conditions with OR; each argument is a `where` object (its own fields are ANDed).
 *
 * @example
 * tables.todos.where(or({ completed: true }, { text: { op: 'LIKE', value: '%urgent%' } }))
 */
export function or<R = any>(...parts: readonly NoInfer<WhereObject<R>>[]): OrCondition<R> {
  return { [CONDITION]: true, parts }
}

/** Anything a store can run as a read: builder queries, raw SQL queries, client documents. */
export interface Queryable<T> {
  readonly '~result'?: T
  asSql(): SqlFragment
  decodeResult(rows: Row[]): T
  /** Tables the query reads when known without asking SQLite. */
  readonly readTables?: readonly string[]
  /** True when a bind value is the session-id placeholder (per-session client documents). */
  readonly usesSessionId?: boolean
}

/** A write a materializer returns. */
export interface Writable {
  readonly '~writable': true
  asSql(): SqlFragment
  readonly table: string
}

/** What the builders need to know about a table at runtime. */
export interface TableInfo {
  readonly name: string
  readonly columns: Columns
  readonly primaryKey: readonly string[]
  /** Columns whose SQLite value differs from the JS value. */
  readonly decoded: readonly (readonly [string, AnyColumn])[]
}

type Mode = 'many' | 'first' | 'count'
type Cond = { readonly col: string; readonly op: Op; readonly value: SqlValue | readonly SqlValue[] }
type Clause = { readonly and: readonly Cond[] } | { readonly or: readonly (readonly Cond[])[] }

interface SelectState {
  readonly columns: readonly string[] | undefined
  readonly where: readonly Clause[]
  readonly orderBy: readonly { readonly col: string; readonly dir: 'asc' | 'desc' }[]
  readonly limit: number | undefined
  readonly offset: number | undefined
  readonly mode: Mode
  readonly fallback: (() => unknown) | undefined
}

export type QueryResultOf<M extends Mode, R, F> = M extends 'many' ? R[] : M extends 'first' ? R | F : number

export function tableInfo(name: string, columns: Columns, primaryKey: readonly string[]): TableInfo {
  const decoded = Object.entries(columns).filter(([, c]) => needsDecoding(c.kind))
  return { name, columns, primaryKey, decoded }
}

/**
 * An immutable, typed query on one table. Every method returns a new builder.
 *
 * @example
 * const open = tables.todos.where({ completed: false }).orderBy('text').limit(50)
 * open.asSql() // { query: 'SELECT * FROM "todos" WHERE "completed" = ? ORDER BY "text" ASC LIMIT ?', bindValues: [0, 50] }
 */
export class QueryBuilder<TCols extends Columns, TRow, TMode extends Mode = 'many', TFallback = undefined> implements Queryable<
  QueryResultOf<TMode, TRow, TFallback>
> {
  declare readonly '~result'?: QueryResultOf<TMode, TRow, TFallback>
  readonly readTables: readonly string[]
  private cachedSql: SqlFragment | undefined

  constructor(
    readonly info: TableInfo,
    private readonly state: SelectState = INITIAL,
  ) {
    this.readTables = [info.name]
  }

  select<K extends keyof RowOf<TCols> & string>(...columns: K[]): QueryBuilder<TCols, Pick<RowOf<TCols>, K>, TMode, TFallback> {
    for (const c of columns) this.column(c)
    return new QueryBuilder(this.info, { ...this.state, columns })
  }

  where(condition: WhereObject<RowOf<TCols>> | OrCondition<RowOf<TCols>>): QueryBuilder<TCols, TRow, TMode, TFallback>
  where<K extends keyof RowOf<TCols> & string>(column: K, value: RowOf<TCols>[K] | null): QueryBuilder<TCols, TRow, TMode, TFallback>
  where<K extends keyof RowOf<TCols> & string>(
    column: K,
    op: 'IN' | 'NOT IN',
    value: readonly NonNullable<RowOf<TCols>[K]>[],
  ): QueryBuilder<TCols, TRow, TMode, TFallback>
  where<K extends keyof RowOf<TCols> & string>(
    column: K,
    op: ScalarOp,
    value: RowOf<TCols>[K] | null,
  ): QueryBuilder<TCols, TRow, TMode, TFallback>
  where(...args: unknown[]): QueryBuilder<TCols, TRow, TMode, TFallback> {
    let clause: Clause
    if (args.length === 1) {
      const arg = args[0] as WhereObject<Row> | OrCondition
      clause = isOrCondition(arg) ? { or: arg.parts.map((p) => this.conditions(p)) } : { and: this.conditions(arg) }
    } else {
      const [col, opOrValue, value] = args as [string, unknown, unknown]
      const obj = args.length === 2 ? { [col]: opOrValue } : { [col]: { op: opOrValue, value } }
      clause = { and: this.conditions(obj as WhereObject<Row>) }
    }
    return this.with({ where: [...this.state.where, clause] })
  }

  orderBy(column: keyof RowOf<TCols> & string, direction: 'asc' | 'desc' = 'asc'): QueryBuilder<TCols, TRow, TMode, TFallback> {
    this.column(column)
    if (direction !== 'asc' && direction !== 'desc') {
      throw new SchemaError(`orderBy on ${this.info.name}.${column}: direction must be 'asc' or 'desc', got ${JSON.stringify(direction)}.`)
    }
    return this.with({ orderBy: [...this.state.orderBy, { col: column, dir: direction }] })
  }

  limit(n: number): QueryBuilder<TCols, TRow, TMode, TFallback> {
    return this.with({ limit: nonNegativeInt(n, 'limit', this.info.name) })
  }

  offset(n: number): QueryBuilder<TCols, TRow, TMode, TFallback> {
    return this.with({ offset: nonNegativeInt(n, 'offset', this.info.name) })
  }

  /** The first row, or `fallback()` (default `undefined`) when there is none. */
  first(): QueryBuilder<TCols, TRow, 'first', undefined>
  first<F>(options: { fallback: () => F }): QueryBuilder<TCols, TRow, 'first', F>
  first(options?: { fallback: () => unknown }): QueryBuilder<TCols, TRow, 'first', unknown> {
    return new QueryBuilder(this.info, { ...this.state, mode: 'first', fallback: options?.fallback })
  }

  count(): QueryBuilder<TCols, TRow, 'count'> {
    return new QueryBuilder(this.info, { ...this.state, mode: 'count' })
  }

  insert(values: InsertOf<TCols> | readonly InsertOf<TCols>[]): WriteQuery<TCols> {
    // one row stays as it is (no array around it): materializers insert one row per event
    const rows = values as Record<string, unknown> | readonly Record<string, unknown>[]
    if (Array.isArray(rows) && rows.length === 0) throw new SchemaError(`insert into ${this.info.name}: pass at least one row.`)
    return new WriteQuery(this.info, { kind: 'insert', rows, conflict: undefined, returning: undefined })
  }

  update(values: Partial<RowOf<TCols>>): WriteQuery<TCols> {
    // undefined fields are skipped, as in insert and where (they do not mean NULL)
    if (!Object.values(values).some((v) => v !== undefined))
      throw new SchemaError(`update of ${this.info.name}: pass at least one column to set.`)
    return new WriteQuery(this.info, { kind: 'update', set: values, where: this.state.where, returning: undefined })
  }

  delete(): WriteQuery<TCols> {
    return new WriteQuery(this.info, { kind: 'delete', where: this.state.where, returning: undefined })
  }

  asSql(): SqlFragment {
    if (this.cachedSql !== undefined) return this.cachedSql
    const { state, info } = this
    const bindValues: SqlValue[] = []
    let query: string
    // a window (limit/offset) bounds the rows counted, so it goes in a subquery
    const windowedCount = state.mode === 'count' && (state.limit !== undefined || state.offset !== undefined)
    if (state.mode === 'count' && !windowedCount) query = `SELECT count(*) AS count FROM ${quoteId(info.name)}`
    else if (windowedCount) query = `SELECT 1 FROM ${quoteId(info.name)}`
    else {
      const cols = state.columns === undefined ? '*' : state.columns.map(quoteId).join(', ')
      query = `SELECT ${cols} FROM ${quoteId(info.name)}`
    }
    query += whereSql(state.where, bindValues)
    if (state.orderBy.length > 0) query += ' ORDER BY ' + state.orderBy.map((o) => `${quoteId(o.col)} ${o.dir.toUpperCase()}`).join(', ')
    const limit = state.mode === 'first' ? 1 : state.limit
    if (limit !== undefined) {
      query += ' LIMIT ?'
      bindValues.push(limit)
    }
    if (state.offset !== undefined) {
      if (limit === undefined) query += ' LIMIT -1'
      query += ' OFFSET ?'
      bindValues.push(state.offset)
    }
    if (windowedCount) query = `SELECT count(*) AS count FROM (${query})`
    this.cachedSql = { query, bindValues }
    return this.cachedSql
  }

  decodeResult(rows: Row[]): QueryResultOf<TMode, TRow, TFallback> {
    const { state } = this
    if (state.mode === 'count') return Number(rows[0]?.count ?? 0) as QueryResultOf<TMode, TRow, TFallback>
    decodeRows(this.info, rows)
    if (state.mode === 'first') {
      return (rows.length > 0 ? rows[0] : state.fallback?.()) as QueryResultOf<TMode, TRow, TFallback>
    }
    return rows as QueryResultOf<TMode, TRow, TFallback>
  }

  // a new plain builder, not `this`: refining a table must not type as the table, whose own
  // properties (name, columns, Row...) the new builder lacks
  private with(patch: Partial<SelectState>): QueryBuilder<TCols, TRow, TMode, TFallback> {
    return new QueryBuilder(this.info, { ...this.state, ...patch })
  }

  private column(name: string): AnyColumn {
    const col = this.info.columns[name]
    if (col === undefined) {
      throw new ColumnValueError(this.info.name, name, `no such column; the table has ${Object.keys(this.info.columns).join(', ')}.`)
    }
    return col
  }

  private conditions(obj: WhereObject<Row>): Cond[] {
    const out: Cond[] = []
    for (const name in obj) {
      const col = this.column(name)
      const raw = (obj as Record<string, unknown>)[name]
      if (raw === undefined) continue
      if (raw !== null && typeof raw === 'object' && 'op' in raw && !(raw instanceof Date)) {
        const { op, value } = raw as { op: Op; value: unknown }
        if (!OPS.has(op))
          throw new ColumnValueError(this.info.name, name, `unknown operator ${JSON.stringify(op)}; use one of ${[...OPS].join(', ')}.`)
        if (op === 'IN' || op === 'NOT IN') {
          if (!Array.isArray(value)) throw new ColumnValueError(this.info.name, name, `${op} needs an array of values.`)
          out.push({ col: name, op, value: value.map((v) => encodeWhere(this.info.name, name, col, v)) })
        } else out.push({ col: name, op, value: value === null ? null : encodeWhere(this.info.name, name, col, value, op) })
      } else {
        out.push({ col: name, op: '=', value: raw === null ? null : encodeWhere(this.info.name, name, col, raw) })
      }
    }
    return out
  }
}

const INITIAL: SelectState = {
  columns: undefined,
  where: [],
  orderBy: [],
  limit: undefined,
  offset: undefined,
  mode: 'many',
  fallback: undefined,
}
const OPS = new Set<Op>(['=', '!=', '<', '>', '<=', '>=', 'LIKE', 'NOT LIKE', 'IN', 'NOT IN'])

type WriteState =
  | {
      readonly kind: 'insert'
      /** One row, or several (a non-empty array). */
      readonly rows: Record<string, unknown> | readonly Record<string, unknown>[]
      readonly conflict:
        | { readonly target: readonly string[]; readonly action: 'ignore' | 'replace' | 'update'; readonly set?: Record<string, unknown> }
        | undefined
      readonly returning: readonly string[] | undefined
    }
  | {
      readonly kind: 'update'
      readonly set: Record<string, unknown>
      readonly where: readonly Clause[]
      readonly returning: readonly string[] | undefined
    }
  | { readonly kind: 'delete'; readonly where: readonly Clause[]; readonly returning: readonly string[] | undefined }

/**
 * An immutable write on one table, returned by materializers. `returning(...)` makes it
 * readable with `ctx.query` inside a materializer.
 */
export class WriteQuery<TCols extends Columns, TResult = void> implements Writable, Queryable<TResult> {
  declare readonly '~writable': true
  declare readonly '~result'?: TResult
  private cachedSql: SqlFragment | undefined

  constructor(
    private readonly info: TableInfo,
    private readonly state: WriteState,
  ) {}

  get table(): string {
    return this.info.name
  }

  where(condition: WhereObject<RowOf<TCols>> | OrCondition<RowOf<TCols>>): WriteQuery<TCols, TResult>
  where<K extends keyof RowOf<TCols> & string>(column: K, value: RowOf<TCols>[K] | null): WriteQuery<TCols, TResult>
  where<K extends keyof RowOf<TCols> & string>(
    column: K,
    op: 'IN' | 'NOT IN',
    value: readonly NonNullable<RowOf<TCols>[K]>[],
  ): WriteQuery<TCols, TResult>
  where<K extends keyof RowOf<TCols> & string>(column: K, op: ScalarOp, value: RowOf<TCols>[K] | null): WriteQuery<TCols, TResult>
  where(...args: unknown[]): WriteQuery<TCols, TResult> {
    if (this.state.kind === 'insert') throw new SchemaError(`insert into ${this.info.name}: where() applies to update and delete only.`)
    const scoped = (new QueryBuilder(this.info) as QueryBuilder<Columns, Row>).where(...(args as [WhereObject<Row>]))
    const clauses = (scoped as unknown as { state: SelectState }).state.where
    return new WriteQuery(this.info, { ...this.state, where: [...this.state.where, ...clauses] })
  }

  /**
   * What to do when an inserted row conflicts on `target`: keep the old row (`'ignore'`),
   * overwrite it with the new one (`'replace'`), or set the given columns (`'update'`).
   */
  onConflict(
    target: (keyof RowOf<TCols> & string) | readonly (keyof RowOf<TCols> & string)[],
    action: 'ignore' | 'replace',
  ): WriteQuery<TCols, TResult>
  onConflict(
    target: (keyof RowOf<TCols> & string) | readonly (keyof RowOf<TCols> & string)[],
    action: 'update',
    set: Partial<RowOf<TCols>>,
  ): WriteQuery<TCols, TResult>
  onConflict(
    target: string | readonly string[],
    action: 'ignore' | 'replace' | 'update',
    set?: Record<string, unknown>,
  ): WriteQuery<TCols, TResult> {
    if (this.state.kind !== 'insert') throw new SchemaError(`onConflict applies to insert only (table ${this.info.name}).`)
    const cols = typeof target === 'string' ? [target] : [...target]
    for (const c of cols)
      if (!(c in this.info.columns)) throw new ColumnValueError(this.info.name, c, 'onConflict target is not a column of the table.')
    if (action === 'update' && (set === undefined || !Object.values(set).some((v) => v !== undefined))) {
      throw new SchemaError(`onConflict(..., 'update') on ${this.info.name}: pass the columns to set.`)
    }
    return new WriteQuery(this.info, { ...this.state, conflict: { target: cols, action, set } })
  }

  returning<K extends keyof RowOf<TCols> & string>(...columns: K[]): WriteQuery<TCols, Pick<RowOf<TCols>, K>[]> {
    for (const c of columns)
      if (!(c in this.info.columns)) throw new ColumnValueError(this.info.name, c, 'returning() names no column of the table.')
    return new WriteQuery(this.info, { ...this.state, returning: columns })
  }

  asSql(): SqlFragment {
    return (this.cachedSql ??= { query: this.statement(), bindValues: this.statementBinds! })
  }

  private statementText: string | undefined
  private statementBinds: SqlValue[] | undefined

  /** The bind values of `statement()`; made once, never changed after. @internal */
  get binds(): SqlValue[] {
    this.statement()
    return this.statementBinds!
  }

  /**
   * The statement text, with its bind values in `binds`: `asSql` without an object around them,
   * for materialization, which runs one write per event. @internal
   */
  statement(): string {
    if (this.statementText !== undefined) return this.statementText
    const { info, state } = this
    let bindValues: SqlValue[]
    let query: string
    if (state.kind === 'insert') {
      const rows = state.rows
      const one = !Array.isArray(rows) ? rows : rows.length === 1 ? rows[0]! : undefined
      if (one !== undefined) {
        const row = one as Record<string, unknown>
        const { names, columns, query: planned } = insertPlan(info, row)
        // sized exactly: a pushed-to empty array gets room for 17 values, and the array lives on
        // as the recorded write the leader replays
        bindValues = new Array<SqlValue>(names.length)
        for (let i = 0; i < names.length; i++) {
          const name = names[i]!
          bindValues[i] = encodeColumnValue(info.name, name, columns[i]!, insertValue(columns[i]!, row[name]))
        }
        query = planned
      } else {
        const many = rows as readonly Record<string, unknown>[]
        const names = insertColumns(info, many)
        bindValues = []
        for (const row of many) {
          for (const name of names)
            bindValues.push(encodeColumnValue(info.name, name, info.columns[name]!, insertValue(info.columns[name]!, row[name])))
        }
        query = insertSql(info, names, many.length)
      }
      const conflict = state.conflict
      if (conflict !== undefined) {
        query += ` ON CONFLICT (${conflict.target.map(quoteId).join(', ')}) DO `
        if (conflict.action === 'ignore') query += 'NOTHING'
        else if (conflict.action === 'replace') {
          const cols = Object.keys(info.columns).filter((c) => !conflict.target.includes(c))
          query += cols.length === 0 ? 'NOTHING' : 'UPDATE SET ' + cols.map((c) => `${quoteId(c)} = excluded.${quoteId(c)}`).join(', ')
        } else query += 'UPDATE SET ' + setList(info, conflict.set!, bindValues)
      }
    } else if (state.kind === 'update') {
      bindValues = []
      query = `UPDATE ${quoteId(info.name)} SET ${setList(info, state.set, bindValues)}${whereSql(state.where, bindValues)}`
    } else {
      bindValues = []
      query = `DELETE FROM ${quoteId(info.name)}${whereSql(state.where, bindValues)}`
    }
    if (state.returning !== undefined) query += ' RETURNING ' + state.returning.map(quoteId).join(', ')
    this.statementBinds = bindValues
    return (this.statementText = query)
  }

  decodeResult(rows: Row[]): TResult {
    if (this.state.returning === undefined) return undefined as TResult
    decodeRows(this.info, rows)
    return rows as TResult
  }
}

/** Decodes rows in place (they are fresh objects from the database layer). */
export function decodeRows(info: TableInfo, rows: Row[]): void {
  const decoded = info.decoded
  if (decoded.length === 0) return
  for (const row of rows) {
    for (const [name, col] of decoded) {
      if (name in row) (row as Record<string, unknown>)[name] = decodeColumnValue(col, row[name]!)
    }
  }
}

function isOrCondition(value: unknown): value is OrCondition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[CONDITION] === true
}

function encodeWhere(table: string, name: string, col: AnyColumn, value: unknown, op?: Op): SqlValue {
  // LIKE patterns are text whatever the column kind
  if ((op === 'LIKE' || op === 'NOT LIKE') && typeof value === 'string') return value
  return encodeColumnValue(table, name, { ...col, nullable: true }, value)
}

function whereSql(clauses: readonly Clause[], bindValues: SqlValue[]): string {
  if (clauses.length === 0) return ''
  const parts: string[] = []
  for (const clause of clauses) {
    if ('and' in clause) {
      for (const c of clause.and) parts.push(condSql(c, bindValues))
    } else {
      const alternatives = clause.or.map((conj) => (conj.length === 0 ? '1' : conj.map((c) => condSql(c, bindValues)).join(' AND ')))
      // or() of no alternatives is false (`WHERE ()` would be a syntax error)
      parts.push(alternatives.length === 0 ? '0' : `(${alternatives.map((a) => `(${a})`).join(' OR ')})`)
    }
  }
  return parts.length === 0 ? '' : ' WHERE ' + parts.join(' AND ')
}

function condSql(c: Cond, bindValues: SqlValue[]): string {
  const col = quoteId(c.col)
  if (c.op === 'IN' || c.op === 'NOT IN') {
    const values = c.value as readonly SqlValue[]
    if (values.length === 0) return c.op === 'IN' ? '0' : '1'
    bindValues.push(...values)
    return `${col} ${c.op} (${values.map(() => '?').join(', ')})`
  }
  if (c.value === null) {
    if (c.op === '=') return `${col} IS NULL`
    if (c.op === '!=') return `${col} IS NOT NULL`
  }
  bindValues.push(c.value as SqlValue)
  return `${col} ${c.op} ?`
}

function setList(info: TableInfo, set: Record<string, unknown>, bindValues: SqlValue[]): string {
  const parts: string[] = []
  for (const name in set) {
    if (set[name] === undefined) continue
    const col = info.columns[name]
    if (col === undefined)
      throw new ColumnValueError(info.name, name, `no such column; the table has ${Object.keys(info.columns).join(', ')}.`)
    bindValues.push(encodeColumnValue(info.name, name, col, set[name]))
    parts.push(`${quoteId(name)} = ?`)
  }
  return parts.join(', ')
}

/**
 * The columns of a one-row insert, the statement and its columns as last worked out for a row
 * with these keys: a materializer inserts rows of one shape over and over, so a batch of
 * events checks the keys once instead of collecting and checking them per row.
 */
interface InsertPlan {
  /** The row's keys (for...in order), every one with a defined value. */
  readonly keys: readonly string[]
  readonly names: readonly string[]
  readonly columns: readonly AnyColumn[]
  readonly query: string
}
const insertPlans = new WeakMap<TableInfo, InsertPlan>()

/** The columns and statement of a one-row insert of `row`: the last shape's, when it matches. */
function insertPlan(info: TableInfo, row: Record<string, unknown>): InsertPlan {
  let plan = insertPlans.get(info)
  if (plan === undefined || !hasKeys(row, plan.keys)) {
    const names = insertColumns(info, [row])
    const keys: string[] = []
    let defined = true
    for (const key in row) {
      keys.push(key)
      if (row[key] === undefined) defined = false
    }
    plan = { keys, names, columns: names.map((n) => info.columns[n]!), query: insertSql(info, names, 1) }
    // a row with undefined values has other columns than its keys say: not a reusable shape
    if (defined) insertPlans.set(info, plan)
  }
  return plan
}

/** The row's keys are exactly `keys`, in this order, each with a defined value. */
function hasKeys(row: Record<string, unknown>, keys: readonly string[]): boolean {
  let i = 0
  for (const key in row) {
    if (key !== keys[i] || row[key] === undefined) return false
    i++
  }
  return i === keys.length
}

function insertColumns(info: TableInfo, rows: readonly Record<string, unknown>[]): string[] {
  const names = new Set<string>()
  for (const row of rows) {
    for (const name in row) {
      if (!(name in info.columns))
        throw new ColumnValueError(info.name, name, `no such column; the table has ${Object.keys(info.columns).join(', ')}.`)
      if (row[name] !== undefined) names.add(name)
    }
  }
  // Thunk and plain defaults are filled in JS so that multi-row inserts stay rectangular;
  // SQL defaults and auto-increment are left to SQLite.
  for (const [name, col] of columnEntries(info)) {
    if (names.has(name)) continue
    const d = col.default
    if (d !== undefined && !isSqlDefault(d)) names.add(name)
    else if (d === undefined && !col.nullable && !col.autoIncrement && !(col.primaryKey && col.kind === 'integer')) {
      throw new ColumnValueError(info.name, name, 'is required on insert (not nullable and no default).')
    }
  }
  return [...names]
}

const entriesByTable = new WeakMap<TableInfo, [string, AnyColumn][]>()
function columnEntries(info: TableInfo): [string, AnyColumn][] {
  let entries = entriesByTable.get(info)
  if (entries === undefined) entriesByTable.set(info, (entries = Object.entries(info.columns)))
  return entries
}

// Materializers build the same few insert shapes for every event; the statement text is the key
// of the prepared-statement cache, so building it once per shape saves the string work too.
const insertSqlByTable = new WeakMap<TableInfo, Map<string, string>>()
const lastInsert = new WeakMap<TableInfo, { names: readonly string[]; rowCount: number; query: string }>()
function insertSql(info: TableInfo, names: readonly string[], rowCount: number): string {
  // the same shape as the previous insert into this table (the usual case): no key to build
  const last = lastInsert.get(info)
  if (last !== undefined && last.rowCount === rowCount && sameNames(last.names, names)) return last.query
  const query = insertSqlOfShape(info, names, rowCount)
  lastInsert.set(info, { names, rowCount, query })
  return query
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function insertSqlOfShape(info: TableInfo, names: readonly string[], rowCount: number): string {
  let byShape = insertSqlByTable.get(info)
  if (byShape === undefined) insertSqlByTable.set(info, (byShape = new Map()))
  const key = `${rowCount}\u0000${names.join('\u0000')}`
  let query = byShape.get(key)
  if (query === undefined) {
    const placeholders = `(${names.map(() => '?').join(', ')})`
    query = `INSERT INTO ${quoteId(info.name)} (${names.map(quoteId).join(', ')}) VALUES ${Array.from({ length: rowCount }, () => placeholders).join(', ')}`
    // multi-row shapes vary with the row count; keep the cache bounded
    if (byShape.size < 256) byShape.set(key, query)
  }
  return query
}

function insertValue(col: AnyColumn, value: unknown): unknown {
  if (value !== undefined) return value
  const d = col.default
  if (d === undefined) return undefined
  return typeof d === 'function' ? (d as () => unknown)() : d
}

export function isSqlDefault(d: unknown): d is { sql: string } {
  return (
    typeof d === 'object' &&
    d !== null &&
    !(d instanceof Date) &&
    !(d instanceof Uint8Array) &&
    'sql' in d &&
    typeof (d as { sql: unknown }).sql === 'string'
  )
}

function nonNegativeInt(n: number, what: string, table: string): number {
  if (!Number.isInteger(n) || n < 0) throw new SchemaError(`${what}(${n}) on ${table}: pass a non-negative integer.`)
  return n
}
