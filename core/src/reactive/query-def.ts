import { CairnError, formatIssues, QueryError } from '../errors.ts'
import type { Queryable } from '../schema/query-builder.ts'
import { validateSync, type StandardSchemaV1 } from '../schema/standard-schema.ts'
import { isSqlFragment, type BindValues, type SqlFragment } from '../sqlite/sql.ts'
import type { Row } from '../sqlite/db.ts'

/** Reads another definition inside a `computed` or dynamic `queryDb`, and depends on it. */
export type Getter = <T>(def: Def<T>) => T

/** Raw SQL: a string with `bindValues`, or a `sql` fragment; `schema` validates and types rows. */
export interface RawQuery<T = Row[]> {
  readonly query: string | SqlFragment
  readonly bindValues?: BindValues
  readonly schema?: StandardSchemaV1<unknown, T>
}

export type QueryInput<T> = Queryable<T> | RawQuery<T>

export interface DefOptions {
  /** Shown in errors and devtools. */
  readonly label?: string
}

/** A reactive query on the state database. Store-independent: instantiate with a store. */
export class LiveQueryDef<T> {
  readonly kind = 'query'
  declare readonly '~value'?: T

  /**
   * @internal The result of this definition's last unsubscribed read in a graph (see
   * `ReactivityGraph.read`). Held here rather than in a WeakMap on the graph: V8's scavenger keeps
   * ephemerons' values alive, so a loop of inline `queryDb(...)` reads kept every result until the
   * next full GC and made each scavenge copy them; here a result dies with its definition.
   */
  lastRead: LastRead | undefined = undefined
  private static_: Queryable<unknown> | undefined

  constructor(
    readonly input: QueryInput<unknown> | ((get: Getter) => QueryInput<unknown>),
    readonly label: string,
    readonly map: ((result: any) => T) | undefined,
  ) {}

  /** The query of a definition that does not depend on other definitions, made once. */
  staticQueryable(): Queryable<unknown> | undefined {
    if (typeof this.input === 'function') return undefined
    return (this.static_ ??= toQueryable(this.input, this.label))
  }
}

/** @internal See `LiveQueryDef.lastRead`. */
export interface LastRead {
  /** The graph's id (not the graph: a module-level definition must not keep a closed store alive). */
  readonly graph: number
  readonly result: unknown
  /** For a query without dependencies on other definitions: the versions of the tables it read, which keep it valid across tasks. */
  readonly versions: readonly (readonly [table: string, version: number])[] | undefined
  /** For a dynamic query: the task it was read in, the only one it is valid in. */
  readonly task: number
}

/** A value derived from other definitions. */
export class ComputedDef<T> {
  readonly kind = 'computed'
  declare readonly '~value'?: T
  constructor(
    readonly fn: (get: Getter) => T,
    readonly label: string,
  ) {}
}

/** A piece of app state living in the graph; set it with `store.setSignal`. */
export class SignalDef<T> {
  readonly kind = 'signal'
  declare readonly '~value'?: T
  constructor(
    readonly initial: T,
    readonly label: string,
  ) {}
}

export type Def<T = unknown> = LiveQueryDef<T> | ComputedDef<T> | SignalDef<T>

type Result<Q> =
  Q extends Queryable<infer T>
    ? T
    : Q extends { readonly schema: StandardSchemaV1<any, infer T> }
      ? T
      : Q extends RawQuery<any>
        ? Row[]
        : never

/**
 * Defines a reactive query. Takes a builder query, raw SQL (`{ query, bindValues?, schema? }`),
 * or a function of `get` that returns one of these (re-derived when what it reads changes).
 *
 * @example
 * const open$ = queryDb(tables.todos.where({ completed: false }).orderBy('text'), { label: 'open' })
 * const counts$ = queryDb({ query: sql`SELECT count(*) AS n FROM todos`, schema: z.array(z.object({ n: z.number() })) })
 * const filtered$ = queryDb((get) => tables.todos.where({ completed: get(showDone$) }))
 */
export function queryDb<Q extends QueryInput<any>>(query: Q | ((get: Getter) => Q), options?: DefOptions): LiveQueryDef<Result<Q>>
export function queryDb<Q extends QueryInput<any>, U>(
  query: Q | ((get: Getter) => Q),
  options: DefOptions & { map: (result: Result<Q>) => U },
): LiveQueryDef<U>
export function queryDb(
  query: QueryInput<unknown> | ((get: Getter) => QueryInput<unknown>),
  options?: DefOptions & { map?: (result: unknown) => unknown },
): LiveQueryDef<unknown> {
  const label = options?.label ?? (typeof query === 'function' ? 'dynamic query' : describeQuery(query))
  return new LiveQueryDef(query, label, options?.map)
}

/** The values of a list of definitions, in order (what `computed([a$, b$], ([a, b]) => …)` receives). */
export type DefValues<D extends readonly Def<any>[]> = { readonly [K in keyof D]: D[K] extends { readonly '~value'?: infer T } ? T : never }

/**
 * Defines a value computed from other definitions: from a function of `get` (it depends on what
 * it reads), or from a list of definitions whose values it receives in order.
 *
 * @example
 * const selected$ = computed((get) => get(open$).find((t) => t.id === get(selectedId$)) ?? null)
 * const selected2$ = computed([open$, selectedId$], ([open, id]) => open.find((t) => t.id === id) ?? null)
 */
export function computed<T>(fn: (get: Getter) => T, options?: DefOptions): ComputedDef<T>
export function computed<const D extends readonly Def<any>[], T>(
  deps: D,
  fn: (values: DefValues<D>) => T,
  options?: DefOptions,
): ComputedDef<T>
export function computed(
  first: ((get: Getter) => unknown) | readonly Def<unknown>[],
  second?: DefOptions | ((values: readonly unknown[]) => unknown),
  third?: DefOptions,
): ComputedDef<unknown> {
  if (!Array.isArray(first)) {
    if (typeof first !== 'function') throw computedArgsError('its first argument must be a function of `get` or a list of definitions')
    return new ComputedDef(first as (get: Getter) => unknown, (second as DefOptions | undefined)?.label ?? 'computed')
  }
  const deps = [...first] as Def<unknown>[]
  const fn = second
  if (typeof fn !== 'function')
    throw computedArgsError('with a list of definitions, its second argument must be the function of their values')
  deps.forEach((d, i) => {
    if (!(d instanceof LiveQueryDef || d instanceof ComputedDef || d instanceof SignalDef))
      throw computedArgsError(`item ${i} of its list is not a definition (queryDb, computed or signal)`)
  })
  return new ComputedDef((get) => fn(deps.map((d) => get(d))), third?.label ?? `computed(${deps.map((d) => d.label).join(', ')})`)
}

function computedArgsError(problem: string): CairnError {
  return new CairnError(
    'InvalidComputed',
    `computed: ${problem}, e.g. computed([a$, b$], ([a, b]) => a + b) or computed((get) => get(a$) + get(b$)).`,
  )
}

/**
 * Defines a signal: app state that queries and computeds can depend on.
 *
 * @example
 * const selectedId$ = signal<string | null>(null, { label: 'selectedId' })
 * store.setSignal(selectedId$, 'a')
 */
export function signal<T>(initial: T, options?: DefOptions): SignalDef<T> {
  return new SignalDef(initial, options?.label ?? 'signal')
}

export function toQueryable(input: QueryInput<unknown>, label: string): Queryable<unknown> {
  if ('asSql' in input) return input
  const fragment: SqlFragment = isSqlFragment(input.query) ? input.query : { query: input.query, bindValues: input.bindValues ?? [] }
  const schema = input.schema
  return {
    asSql: () => fragment,
    decodeResult: (rows: Row[]) => {
      if (schema === undefined) return rows
      const result = validateSync(schema, rows, `query "${label}"`)
      if (result.issues !== undefined) {
        throw new QueryError(
          label,
          fragment.query,
          `Query "${label}" failed: its rows do not match the query's schema: ${formatIssues(result.issues)} (SQL: ${fragment.query}). Fix the query or its schema; the store keeps working.`,
        )
      }
      return result.value
    },
  }
}

function describeQuery(query: QueryInput<unknown>): string {
  try {
    const sql = 'asSql' in query ? query.asSql().query : isSqlFragment(query.query) ? query.query.query : query.query
    return sql.length > 80 ? sql.slice(0, 77) + '...' : sql
  } catch {
    return 'query'
  }
}
