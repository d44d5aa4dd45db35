import type { Adapter, LeaderPort } from './adapter.ts'
import { CairnError, SchemaError, StoreShutdownError } from './errors.ts'
import { newEventId, shortId, type EventRecord } from './event-record.ts'
import { INTERNAL_TABLES, type BootProgress } from './leader.ts'
import { Materialization } from './materialize.ts'
import { ComputedDef, LiveQueryDef, SignalDef, type Def } from './query-def.ts'
import { ReactivityGraph, type InstanceInfo } from './reactivity.ts'
import type { EventInput } from './schema/events.ts'
import type { Queryable } from './schema/query-builder.ts'
import type { Schema } from './schema/schema.ts'
import { formatSeqNum, nextSeqNum, type SeqNum } from './seq-num.ts'
import { SqliteDb, type RecordedChanges } from './sqlite.ts'
import { syncStatus$, type SyncStatus } from './sync/status.ts'
import { computed as preactComputed, signal as preactSignal } from '@preact/signals-core'

export type { SyncStatus }

export interface CreateStoreOptions<S extends Schema = Schema> {
  readonly schema: S
  readonly adapter: Adapter
  /** Clients with the same storeId share one eventlog. */
  readonly storeId: string
  /** Progress of a state rebuild after a schema change. */
  readonly onBootProgress?: (progress: BootProgress) => void
  /**
   * Receives errors that have no caller to throw to: a throwing subscriber, a query error of a
   * subscription without `onError`, a failed write in the leader. Defaults to `console.error`.
   */
  readonly onError?: (error: unknown) => void
}

/** What `store.commit` returns; the commit itself is already visible to queries. */
export interface CommitHandle {
  /** The events' (provisional) sequence numbers. */
  readonly seqNums: readonly SeqNum[]
  /** Resolves once the leader has the events in its durable log. */
  readonly persisted: Promise<void>
  /** Resolves once the events' order is final (by the sync server; without one, by the leader). */
  readonly confirmed: Promise<void>
}

export interface SubscribeOptions {
  /** Receives errors of the query; without it they go to the store's `onError`. */
  readonly onError?: (error: unknown) => void
}

/** Committed in this session, not yet confirmed: the events and the changeset that undoes them. */
interface PendingCommit {
  readonly records: readonly EventRecord[]
  readonly changeset: Uint8Array | null
  readonly tables: ReadonlySet<string>
}

interface OutboxEntry {
  readonly records: readonly EventRecord[]
  readonly settle: (error?: unknown) => void
}

/**
 * Creates a store and resolves once it can serve reads: the leader is open (state rebuilt if the
 * schema changed) and this session booted from the leader's snapshot.
 *
 * @example
 * const store = await createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: 'demo' })
 * store.commit(events.todoCreated({ id: 'a', text: 'Buy milk' }))
 * store.query(queryDb(tables.todos.where({ completed: false })))  // [{ id: 'a', text: 'Buy milk', ... }]
 */
export async function createStorePromise<S extends Schema>(options: CreateStoreOptions<S>): Promise<Store<S>> {
  const { schema, adapter, storeId } = options
  if (typeof storeId !== 'string' || storeId.length === 0) throw new SchemaError('createStorePromise needs a non-empty storeId.')
  const reportError = options.onError ?? ((e: unknown) => console.error(e))
  const port = await adapter.openLeader({ storeId, schema, onProgress: options.onBootProgress, warn: (m) => console.warn(m) })
  try {
    const boot = await port.boot()
    const db = await SqliteDb.deserialize(boot.snapshot)
    // the session holds state only; the log stays with the leader
    for (const table of INTERNAL_TABLES) db.exec(`DROP TABLE IF EXISTS ${table}`)
    return new Store(schema, storeId, port, db, boot.head, boot.pending, reportError)
  } catch (e) {
    await port.close()
    throw e
  }
}

/**
 * A session of a store: commits events synchronously into its in-memory SQLite, serves reactive
 * queries from its graph, and hands events to its client's leader in the background.
 */
export class Store<S extends Schema = Schema> {
  readonly sessionId = shortId()
  readonly clientId: string
  private readonly graph: ReactivityGraph
  private readonly materialization: Materialization
  private localHead: SeqNum
  private leaderHead: SeqNum
  private readonly pending: PendingCommit[] = []
  private pendingCount = 0
  private outbox: OutboxEntry[] = []
  private flushScheduled = false
  private flushing: Promise<void> | undefined
  private shutdownReason: string | undefined
  /** Bumped whenever a field of the sync status changes; the status object is built lazily. */
  private readonly statusVersion = preactSignal(0)

  /** @internal use createStorePromise */
  constructor(
    readonly schema: S,
    readonly storeId: string,
    private readonly leader: LeaderPort,
    private readonly db: SqliteDb,
    head: SeqNum,
    leaderPending: readonly EventRecord[],
    private readonly reportError: (error: unknown) => void,
  ) {
    this.clientId = leader.clientId
    this.localHead = head
    this.leaderHead = head
    this.materialization = new Materialization(db, schema)
    this.graph = new ReactivityGraph(
      { run: (q) => this.materialization.read(q, this.sessionId), tablesRead: (sql) => this.db.tablesRead(sql) },
      reportError,
    )
    this.graph.provide(
      syncStatus$,
      preactComputed(() => {
        this.statusVersion.value
        return this.syncStatus
      }),
    )
    if (leaderPending.length > 0) {
      const recorded = db.recordChanges(() => db.transaction(() => leaderPending.forEach((r) => this.materialization.apply(r))))
      this.pending.push({ records: leaderPending, changeset: recorded.changeset, tables: recorded.tables })
      this.pendingCount = leaderPending.length
    }
  }

  /**
   * Commits events: runs their materializers in one transaction (all or nothing), updates every
   * affected query before returning, then hands the events to the leader in the background.
   * Throws a typed error, with state and log untouched, when an event is unknown or a
   * materializer fails.
   *
   * @example
   * const handle = store.commit(events.todoCreated({ id: 'a', text: 'Buy milk' }))
   * await handle.persisted
   */
  commit(...events: EventInput[]): CommitHandle {
    this.assertOpen('commit')
    const defs = events.map((event) => {
      const def = this.schema.eventsByName.get(event?.name)
      if (def === undefined || typeof event.json !== 'string') {
        throw new SchemaError(
          `Cannot commit ${event?.name === undefined ? 'a value that is not an event' : `event "${event.name}"`}: it is not in this store's schema. Create events by calling their definition, e.g. events.todoCreated({ ... }).`,
        )
      }
      return def
    })
    if (events.length === 0) return this.enqueue([])
    const clientOnly = defs[0]!.clientOnly
    const mixed = defs.some((d) => d.clientOnly !== clientOnly)
    const records: EventRecord[] = []
    let head = this.localHead
    const applyAll = (record: (apply: () => void, eventName: string, clientOnly: boolean) => void) => {
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!
        const def = defs[i]!
        head = nextSeqNum(head, def.clientOnly)
        const rec: EventRecord = {
          seqNum: head,
          name: event.name,
          json: event.json,
          eventId: newEventId(),
          clientId: this.clientId,
          sessionId: this.sessionId,
          clientOnly: def.clientOnly,
        }
        record(() => this.materialization.apply(rec, event.args), event.name, def.clientOnly)
        records.push(rec)
      }
    }
    let changes: PendingCommit[] = []
    // the write checks run inside the transaction, so a refused commit leaves nothing behind
    this.db.transaction(() => {
      if (!mixed) {
        // One changeset per commit: a session's first write to a table costs a schema lookup
        // (~50 µs), so recording per event would dominate small commits. A commit is all or
        // nothing, and so is its undo.
        const recorded = this.db.recordChanges(() => applyAll((apply) => apply()))
        this.checkWrites(events.length === 1 ? `"${events[0]!.name}"` : 'in this commit', clientOnly, recorded.tables)
        changes = [{ records, changeset: recorded.changeset, tables: recorded.tables }]
      } else {
        // synced and client-only events in one commit: record each event to check what it wrote
        const perEvent: RecordedChanges[] = []
        applyAll((apply, name, isClientOnly) => {
          const recorded = this.db.recordChanges(apply)
          this.checkWrites(`"${name}"`, isClientOnly, recorded.tables)
          perEvent.push(recorded)
        })
        changes = perEvent.map((r, i) => ({ records: [records[i]!], changeset: r.changeset, tables: r.tables }))
      }
    })
    this.localHead = head
    this.pendingCount += records.length
    const written = new Set<string>()
    for (const c of changes) {
      this.pending.push(c)
      for (const t of c.tables) written.add(t)
    }
    this.graph.bump(written)
    this.statusVersion.value++
    return this.enqueue(records)
  }

  /** Reads a definition (or runs a builder/raw query) synchronously. */
  query<T>(query: Def<T> | Queryable<T>): T {
    this.assertOpen('query')
    if (query instanceof LiveQueryDef || query instanceof ComputedDef || query instanceof SignalDef) return this.graph.read(query)
    return this.materialization.read(query, this.sessionId)
  }

  /**
   * Calls `listener` now with the current result and after every change of it. Returns the
   * function that unsubscribes; the query instance is released when nothing uses it.
   */
  subscribe<T>(def: Def<T>, listener: (value: T) => void, options?: SubscribeOptions): () => void {
    this.assertOpen('subscribe')
    return this.graph.subscribe(def, listener, options?.onError ?? this.reportError)
  }

  setSignal<T>(def: SignalDef<T>, value: T): void {
    this.assertOpen('setSignal')
    this.graph.setSignal(def, value)
  }

  get syncStatus(): SyncStatus {
    return {
      pending: this.pendingCount,
      localHead: formatSeqNum(this.localHead),
      leaderHead: formatSeqNum(this.leaderHead),
      serverHead: null,
      connected: false,
      error: null,
    }
  }

  /** Live query instances with their run counts and tables (devtools). */
  inspect(): InstanceInfo[] {
    return this.graph.inspect()
  }

  /** How many times the instance of `def` ran in this store. */
  runsOf(def: Def): number {
    return this.graph.runsOf(def)
  }

  get isShutdown(): boolean {
    return this.shutdownReason !== undefined
  }

  /** Hands every committed event to the leader, then releases the session. */
  async shutdown(reason = 'shutdown() was called'): Promise<void> {
    if (this.shutdownReason !== undefined) return
    this.shutdownReason = reason
    await this.drain()
    this.graph.dispose()
    this.db.close()
    await this.leader.close()
  }

  /** Drops the first `n` pending events: their order is final, they will never be undone. */
  private confirmLocally(n: number): void {
    this.pendingCount -= n
    let drop = 0
    while (n > 0 && drop < this.pending.length) {
      const first = this.pending[drop]!
      if (first.records.length <= n) {
        n -= first.records.length
        drop++
      } else {
        // a commit confirmed in part keeps its undo for the rest; a rebase undoes the whole
        // commit and re-applies the confirmed part
        this.pending[drop] = { ...first, records: first.records.slice(n) }
        n = 0
      }
    }
    this.pending.splice(0, drop)
  }

  private checkWrites(eventName: string, clientOnly: boolean, tables: ReadonlySet<string>): void {
    for (const table of tables) {
      const tableIsClientOnly = this.schema.clientOnlyTables.has(table)
      if (clientOnly && !tableIsClientOnly) {
        throw new CairnError(
          'ClientOnlyWrite',
          `Client-only event ${eventName} wrote table "${table}", which is synced. Client-only events may write only client-only tables (clientOnly: true, client documents); make the event synced or the table clientOnly.`,
        )
      }
      if (!clientOnly && tableIsClientOnly) {
        throw new CairnError(
          'ClientOnlyWrite',
          `Synced event ${eventName} wrote client-only table "${table}". Client-only tables are written by client-only events only; use Events.clientOnly for this event or make the table synced.`,
        )
      }
    }
  }

  private enqueue(records: EventRecord[]): CommitHandle {
    let settle!: (error?: unknown) => void
    const persisted = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === undefined ? resolve() : reject(error))
    })
    // failures are also reported through onError, so an unawaited handle never crashes the app
    persisted.catch(() => {})
    if (records.length > 0) {
      this.outbox.push({ records, settle })
      this.scheduleFlush()
    } else settle()
    return { seqNums: records.map((r) => r.seqNum), persisted, confirmed: persisted }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    queueMicrotask(() => {
      this.flushScheduled = false
      void this.drain()
    })
  }

  /** Sends the outbox to the leader, one batch at a time, until it is empty. */
  private drain(): Promise<void> {
    this.flushing ??= (async () => {
      try {
        while (this.outbox.length > 0) {
          const batch = this.outbox
          this.outbox = []
          const records = batch.flatMap((b) => b.records)
          try {
            const result = await this.leader.append(records)
            // without a sync backend the leader confirms at once: these are no longer pending
            this.confirmLocally(records.length)
            this.leaderHead = result.assigned[result.assigned.length - 1] ?? this.leaderHead
            this.statusVersion.value++
            for (const f of result.failures) this.reportError(f.error)
            for (const b of batch) b.settle()
          } catch (e) {
            const error = new CairnError(
              'LeaderWriteFailed',
              `The leader could not store ${records.length} event(s): ${(e as Error)?.message ?? e}. They remain applied in this session.`,
              { cause: e },
            )
            this.reportError(error)
            for (const b of batch) b.settle(error)
          }
        }
      } finally {
        this.flushing = undefined
      }
    })()
    return this.flushing
  }

  private assertOpen(operation: string): void {
    if (this.shutdownReason !== undefined) throw new StoreShutdownError(operation, this.shutdownReason)
  }
}
