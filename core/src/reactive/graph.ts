import {
  batch,
  computed as preactComputed,
  effect,
  signal as preactSignal,
  untracked,
  type ReadonlySignal,
  type Signal,
} from '@preact/signals-core'
import { deepEqual } from './equal.ts'
import { QueryError } from '../errors.ts'
import { toQueryable, type Def, type Getter, type LiveQueryDef, type QueryInput, type SignalDef } from './query-def.ts'
import { LruMap } from './lru-map.ts'
import type { Queryable } from '../schema/query-builder.ts'

/** Runs reads against the session database for the graph. */
export interface QueryRunner {
  run<T>(query: Queryable<T>): T
  /** Tables a statement reads (SQLite's `tables_used`). */
  tablesRead(sql: string): readonly string[]
}

/** Devtools view of one live instance. */
export interface InstanceInfo {
  readonly label: string
  readonly kind: Def['kind']
  readonly runs: number
  readonly refs: number
  readonly tables: readonly string[]
  /** Labels of the definitions (signals, queries, computeds) it read through `get`, in first-read order. */
  readonly dependencies: readonly string[]
}

interface Instance {
  readonly def: Def
  readonly node: ReadonlySignal<unknown>
  /** Set only for signal definitions. */
  readonly signal: Signal<unknown> | undefined
  refs: number
  runs: number
  tables: readonly string[]
  readonly children: Set<Instance>
}

/**
 * The reactivity graph of one store:
 *
 *   table version signals ──► query computeds ──► computeds ──► subscriber effects
 *
 * A commit bumps the versions of the tables it wrote, in one batch; only computeds that read
 * those versions re-run, and one that produces an equal result keeps its previous reference,
 * which stops propagation. Instances are created per definition (keyed by object identity),
 * reference-counted by subscriptions and parents, and released when unused.
 */
const SQL_TEXTS_KEPT = 256

export class ReactivityGraph {
  private readonly versions = new Map<string, Signal<number>>()
  private readonly instances = new Map<Def, Instance>()
  /** Tables each SQL text reads, for the recently used texts (IN-lists of any length make new ones). */
  private readonly tablesBySql = new LruMap<string, readonly string[]>(SQL_TEXTS_KEPT)
  /** Signals the store owns (sync status): read-only to apps. */
  private readonly provided = new Map<Def, ReadonlySignal<unknown>>()
  private sweepScheduled = false
  private disposed = false

  constructor(
    private readonly runner: QueryRunner,
    /** Where errors thrown by listeners go; they never reach the commit that caused them. */
    private readonly reportError: (error: unknown) => void,
  ) {}

  /** Bumps the version of each written table, in one batch, so each affected query re-runs once. */
  bump(tables: Iterable<string>): void {
    batch(() => {
      for (const name of tables) {
        const version = this.versions.get(name)
        if (version !== undefined) version.value++
      }
    })
  }

  /** Makes `def` read `node` in this graph instead of a signal of its own; apps cannot set it. */
  provide<T>(def: SignalDef<T>, node: ReadonlySignal<T>): void {
    this.provided.set(def, node)
  }

  read<T>(def: Def<T>): T {
    if (def.kind === 'query' && !this.instances.has(def)) {
      // A query read unsubscribed runs without a graph node: building (and later sweeping) a node
      // costs more than the query when apps write `store.query(queryDb(...))` inline. Its result
      // stays with the definition and answers later reads while the tables it read are unchanged
      // (a dynamic query's only for the rest of the task: what it depends on is not tracked here).
      const last = this.lastRead(def)
      if (last !== UNSET) return last as T
      if (def.staticQueryable() === undefined && def.lastRead?.graph === this.id && def.lastRead.task === this.task) {
        // read twice in one task: it gets a node, which keeps the first result's reference
      } else {
        const read = { tables: [] as readonly string[] }
        let result = this.runQuery(def, this.directGet, read)
        // an equal result keeps the reference handed out before, as a node's re-run does
        if (def.lastRead?.graph === this.id && deepEqual(def.lastRead.result, result)) result = def.lastRead.result
        const isStatic = def.staticQueryable() !== undefined
        def.lastRead = {
          graph: this.id,
          result,
          versions: isStatic ? read.tables.map((t) => [t, this.version(t).peek()] as const) : undefined,
          task: this.task,
        }
        if (!isStatic) {
          this.dynamicReads.push(def)
          this.scheduleSweep()
        }
        return result as T
      }
    }
    const instance = this.instance(def)
    if (instance.refs === 0) this.scheduleSweep()
    return instance.node.value as T
  }

  /** The last unsubscribed result of `def` in this graph if it is still valid, else UNSET. */
  private lastRead(def: LiveQueryDef<unknown>): unknown {
    const last = def.lastRead
    if (last === undefined || last.graph !== this.id) return UNSET
    if (last.versions === undefined) return UNSET
    for (const [table, version] of last.versions) if (this.versions.get(table)?.peek() !== version) return UNSET
    return last.result
  }

  private readonly id = nextGraphId++
  /** Counts sweeps: a dynamic query's unsubscribed result belongs to the task it was read in. */
  private task = 0
  private dynamicReads: LiveQueryDef<unknown>[] = []
  private readonly directGet: Getter = (child) => this.read(child) as never

  setSignal<T>(def: Def<T>, value: T): void {
    if (def.kind !== 'signal') throw new TypeError(`setSignal needs a signal definition; "${def.label}" is a ${def.kind}.`)
    if (this.provided.has(def)) throw new TypeError(`"${def.label}" is maintained by the store and cannot be set.`)
    const instance = this.instance(def)
    if (instance.refs === 0) this.scheduleSweep()
    instance.signal!.value = value
  }

  /**
   * Calls `listener` with the current value now and after every change. Errors of the query go to
   * `onError`; a throwing listener is reported without starving other listeners or the commit.
   */
  subscribe<T>(def: Def<T>, listener: (value: T) => void, onError: (error: unknown) => void): () => void {
    const instance = this.instance(def)
    instance.refs++
    let active = true
    const stop = effect(() => {
      let value: unknown
      try {
        value = instance.node.value
      } catch (e) {
        untracked(() => onError(e))
        return
      }
      untracked(() => {
        try {
          listener(value as T)
        } catch (e) {
          this.reportError(e)
        }
      })
    })
    return () => {
      if (!active) return
      active = false
      stop()
      this.release(instance)
    }
  }

  /** Live instances, for devtools and tests. */
  inspect(): InstanceInfo[] {
    return [...this.instances.values()].map((i) => ({
      label: i.def.label,
      kind: i.def.kind,
      runs: i.runs,
      refs: i.refs,
      tables: i.tables,
      dependencies: [...i.children].map((c) => c.def.label),
    }))
  }

  /** How often the instance of `def` ran its query or computation (0 when not instantiated). */
  runsOf(def: Def): number {
    return this.instances.get(def)?.runs ?? 0
  }

  dispose(): void {
    this.disposed = true
    this.instances.clear()
  }

  private instance(def: Def): Instance {
    let instance = this.instances.get(def)
    if (instance === undefined) {
      instance = this.create(def)
      this.instances.set(def, instance)
    }
    return instance
  }

  private create(def: Def): Instance {
    const children = new Set<Instance>()
    const get: Getter = (child) => {
      const childInstance = this.instance(child)
      if (!children.has(childInstance)) {
        children.add(childInstance)
        childInstance.refs++
      }
      return childInstance.node.value as never
    }
    const provided = this.provided.get(def)
    if (provided !== undefined) return { def, node: provided, signal: undefined, refs: 0, runs: 0, tables: [], children }
    if (def.kind === 'signal') {
      const s = preactSignal<unknown>(def.initial)
      return { def, node: s, signal: s, refs: 0, runs: 0, tables: [], children }
    }
    const instance: Instance = { def, node: undefined as never, signal: undefined, refs: 0, runs: 0, tables: [], children }
    // a node made for a definition read unsubscribed before keeps that result's reference while equal
    let previous: unknown = def.kind === 'query' && def.lastRead?.graph === this.id ? def.lastRead.result : UNSET
    const node = preactComputed(() => {
      instance.runs++
      const next = def.kind === 'computed' ? def.fn(get) : this.runQuery(def, get, instance)
      if (previous !== UNSET && deepEqual(previous, next)) return previous
      previous = next
      return next
    })
    ;(instance as { node: ReadonlySignal<unknown> }).node = node
    return instance
  }

  private runQuery(def: LiveQueryDef<unknown>, get: Getter, instance: Pick<Instance, 'tables'>): unknown {
    let sql = ''
    try {
      const query = def.staticQueryable() ?? toQueryable((def.input as (get: Getter) => QueryInput<unknown>)(get), def.label)
      sql = query.asSql().query
      const tables = query.readTables ?? this.tablesFor(sql)
      instance.tables = tables
      for (const table of tables) this.version(table).value
      const result = untracked(() => this.runner.run(query))
      return def.map === undefined ? result : def.map(result)
    } catch (e) {
      if (e instanceof QueryError) throw e
      throw new QueryError(
        def.label,
        sql,
        `Query "${def.label}" failed: ${(e as Error)?.message ?? String(e)}${sql ? ` (SQL: ${sql})` : ''}. Fix the query; the store keeps working.`,
        { cause: e },
      )
    }
  }

  private tablesFor(sql: string): readonly string[] {
    let tables = this.tablesBySql.get(sql)
    if (tables === undefined) {
      tables = this.runner.tablesRead(sql)
      this.tablesBySql.set(sql, tables)
    }
    return tables
  }

  private version(table: string): Signal<number> {
    let v = this.versions.get(table)
    if (v === undefined) {
      v = preactSignal(0)
      this.versions.set(table, v)
    }
    return v
  }

  private release(instance: Instance): void {
    instance.refs--
    if (instance.refs > 0 || this.disposed) return
    if (this.instances.get(instance.def) === instance) this.instances.delete(instance.def)
    for (const child of instance.children) this.release(child)
    instance.children.clear()
  }

  private scheduleSweep(): void {
    if (this.sweepScheduled) return
    this.sweepScheduled = true
    // Instances read without a subscription stay cached for the rest of the current task, so a
    // loop of reads is answered from the graph, then are released.
    queueMicrotask(() => {
      this.sweepScheduled = false
      this.task++
      for (const def of this.dynamicReads) def.lastRead = undefined
      this.dynamicReads = []
      for (const instance of [...this.instances.values()]) {
        if (instance.refs === 0) {
          instance.refs = 1
          this.release(instance)
        }
      }
    })
  }
}

const UNSET = Symbol('unset')
let nextGraphId = 1
