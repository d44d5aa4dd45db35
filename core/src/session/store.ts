import type { Adapter, LeaderPort } from '../leader/adapter.ts'
import { CairnError, MaterializerError, SchemaError, StoreShutdownError } from '../errors.ts'
import { LocalRecord, newEventIds, shortId, withSeqNum, type EventRecord } from '../events/record.ts'
import {
  INTERNAL_TABLES,
  type BootProgress,
  type CommitHint,
  type LeaderMessage,
  type LeaderStatus,
  type LogEntry,
  type SessionBoot,
} from '../leader/leader.ts'
import { Materialization } from '../events/materialize.ts'
import { ComputedDef, LiveQueryDef, SignalDef, type Def } from '../reactive/query-def.ts'
import { deepEqual } from '../reactive/equal.ts'
import { ReactivityGraph, type InstanceInfo } from '../reactive/graph.ts'
import { CreatedEvent, type EventInput } from '../schema/events.ts'
import type { Queryable } from '../schema/query-builder.ts'
import type { Schema } from '../schema/schema.ts'
import { compareSeqNum, formatSeqNum, nextSeqNum, type SeqNum } from '../events/seq-num.ts'
import { SqliteDb, type RecordedChanges, type RecordedWrites } from '../sqlite/db.ts'
import { syncStatus$, type SyncStatus } from '../sync/status.ts'
import type { SyncOptions } from '../sync/leader-sync.ts'
import { addLocal, initialSyncState, mergeUpstream, type SyncState } from '../sync/sync-state.ts'
import { Outcome } from './outcome.ts'
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
  /**
   * Sync with a server through `backend`; without it the leader confirms events itself.
   *
   * @example
   * sync: { backend: makeWsSync({ url, getAuthToken }), onBackendIdMismatch: 'reset' }
   */
  readonly sync?: SyncOptions
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

/**
 * How to undo synced events applied in this session: one changeset covers `records` (a commit,
 * or everything replayed by a rebase). The first `done` records are confirmed already; undoing
 * the entry undoes them too, so a rebase re-applies them.
 */
interface UndoEntry {
  records: EventRecord[]
  /** undefined: not recorded (a store without sync: a rebase reloads from the leader instead) */
  readonly changeset: Uint8Array | null | undefined
  readonly tables: ReadonlySet<string>
  done: number
}

interface OutboxEntry {
  readonly records: readonly EventRecord[]
  readonly hint: CommitHint
  readonly persisted: Outcome
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
  const port = await adapter.openLeader({
    storeId,
    schema,
    onProgress: options.onBootProgress,
    warn: (m) => console.warn(m),
    reportError,
    sync: options.sync,
  })
  let db: SqliteDb | undefined
  try {
    const boot = await port.boot()
    db = boot.snapshot instanceof SqliteDb ? boot.snapshot : await SqliteDb.deserialize(boot.snapshot)
    // the session holds state only; the log stays with the leader
    for (const table of INTERNAL_TABLES) db.exec(`DROP TABLE IF EXISTS ${table}`)
    return new Store(schema, storeId, port, db, boot, reportError, options.sync !== undefined)
  } catch (e) {
    db?.close()
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
  private readonly graph: ReactivityGraph
  private readonly materialization: Materialization
  /** Synced events of this session the server has not ordered yet. */
  private sync: SyncState<EventRecord>
  private readonly undo: UndoEntry[] = []
  private localHead: SeqNum
  private leaderStatus: LeaderStatus
  private clientOnlyUnpersisted = 0
  /**
   * The leader's `stateToken` for this session's current state, when the leader, after taking
   * every commit so far, will hold exactly this state; null once that is unknown (a rebase, a
   * failed append). Lets the leader apply our changesets instead of materializing again.
   */
  private stateToken: string | null
  /**
   * While a rebase or reload re-applies events: the validated args of this session's pending
   * events by eventId, for those that come back from the leader without them, so a replay skips
   * parsing and validating. Built only then: a map kept up to date cost two hash operations per
   * committed event.
   */
  private pendingArgs: ReadonlyMap<string, unknown> | undefined
  /** Resolvers of `handle.confirmed`, by the last synced eventId of the commit. */
  private readonly confirmWaiters = new Map<string, Outcome>()
  private outbox: OutboxEntry[] = []
  /** Set while the session reloads from the leader (see resync). */
  private resyncing: Promise<void> | undefined
  private held: LeaderMessage[] = []
  private flushScheduled = false
  private flushing: Promise<void> | undefined
  private shutdownReason: string | undefined
  private readonly unsubscribeLeader: () => void
  /** Bumped whenever a field of the sync status changes; the status object is built lazily. */
  private readonly statusVersion = preactSignal(0)

  /** @internal use createStorePromise */
  constructor(
    readonly schema: S,
    readonly storeId: string,
    private readonly leader: LeaderPort,
    private readonly db: SqliteDb,
    boot: SessionBoot,
    private readonly reportError: (error: unknown) => void,
    /**
     * With a sync backend, other clients' events land before ours and every commit keeps its
     * undo (a changeset). Without one, the leader confirms each commit in order and only another
     * session of the same leader can get in between; recording just the written tables keeps
     * commits cheap, and that rare rebase reloads from the leader instead.
     */
    private readonly undoable: boolean = true,
  ) {
    this.leaderStatus = boot.status
    this.localHead = boot.head
    this.stateToken = boot.pending.length === 0 ? (boot.stateToken ?? null) : null
    this.sync = initialSyncState(boot.upstreamHead, [...boot.pending], boot.rebaseGeneration)
    this.materialization = new Materialization(db, schema)
    this.graph = new ReactivityGraph(
      { run: (q) => this.materialization.read(q, this.sessionId), tablesRead: (sql) => this.db.tablesRead(sql) },
      reportError,
    )
    let status: SyncStatus | undefined
    this.graph.provide(
      syncStatus$,
      preactComputed(() => {
        this.statusVersion.value
        const next = this.syncStatus
        // an unchanged status keeps its reference, so subscribers are not called for nothing
        if (status === undefined || !deepEqual(status, next)) status = next
        return status
      }),
    )
    if (boot.pending.length > 0) {
      const records = [...boot.pending]
      const recorded = this.record(() => this.applyAll(records))
      this.undo.push({ records, changeset: recorded.changeset, tables: recorded.tables, done: 0 })
    }
    this.unsubscribeLeader = leader.subscribe((message) => this.onLeaderMessage(message))
  }

  /** The id of this client (device); it changes only if another client turned out to use the same one. */
  get clientId(): string {
    return this.leaderStatus.clientId
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
      if (def === undefined) {
        throw new SchemaError(
          `Cannot commit ${event?.name === undefined ? 'a value that is not an event' : `event "${event.name}"`}: it is not in this store's schema. Create events by calling their definition, e.g. events.todoCreated({ ... }).`,
        )
      }
      // a CreatedEvent's JSON is made later: reading it here would make it now
      if (!(event instanceof CreatedEvent) && typeof event.json !== 'string') {
        throw new SchemaError(
          `Cannot commit event "${event.name}": it has no JSON. A copy of an event (a spread, structuredClone, postMessage) keeps only its name and args; commit the event its definition returned, or create it where you commit it.`,
        )
      }
      return def
    })
    if (events.length === 0) return this.enqueue([], undefined, { count: 0, base: null, changeset: undefined })
    const clientOnly = defs[0]!.clientOnly
    const mixed = defs.some((d) => d.clientOnly !== clientOnly)
    const records: EventRecord[] = []
    let head = this.localHead
    let nextGlobal = this.sync.upstreamHead + this.sync.pending.length + 1
    const eventIds = newEventIds(events.length)
    const { clientId, sessionId } = this
    const { rebaseGeneration } = this.sync
    const materialization = this.materialization
    /** Materializes every event; `record` (if given) wraps each event's materialization. */
    const applyAll = (record?: (apply: () => void, eventName: string, clientOnly: boolean) => void) => {
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!
        const def = defs[i]!
        // synced events chain after the pending ones; client-only ones count after the head
        head = def.clientOnly ? nextSeqNum(head, true) : { global: nextGlobal++, client: 0, rebaseGeneration }
        const rec = new LocalRecord(head, event.name, event, eventIds[i]!, clientId, sessionId, def.clientOnly, event.args)
        if (record === undefined) materialization.apply(rec, event.args)
        else record(() => materialization.apply(rec, event.args), event.name, def.clientOnly)
        records.push(rec)
      }
    }
    let entries: UndoEntry[] = []
    let written: ReadonlySet<string> = new Set()
    let changeset: Uint8Array | null | undefined
    let writes: RecordedWrites | undefined
    // the write checks run inside the transaction, so a refused commit leaves nothing behind
    this.db.transaction(() => {
      if (!mixed) {
        // One changeset per commit: a session's first write to a table costs a schema lookup
        // (~50 µs), so recording per event would dominate small commits. A commit is all or
        // nothing, and so is its undo.
        // Without a sync backend nothing is ever undone, so only the tables are recorded, and a
        // synced commit's write statements, for the leader to run instead of every materializer
        // again (recording them costs an array push per write; a changeset would read every
        // changed row back).
        const run = () => applyAll()
        if (!this.undoable && !clientOnly) {
          const recorded = this.db.recordWrites(run)
          this.checkWrites(events.length === 1 ? `"${events[0]!.name}"` : 'in this commit', clientOnly, recorded.tables)
          entries = [{ records: [...records], changeset: undefined, tables: recorded.tables, done: 0 }]
          writes = recorded.writes
          written = recorded.tables
        } else {
          const recorded = this.record(run)
          this.checkWrites(events.length === 1 ? `"${events[0]!.name}"` : 'in this commit', clientOnly, recorded.tables)
          // client-only events are final at once: they are never undone
          if (!clientOnly) {
            entries = [{ records: [...records], changeset: recorded.changeset, tables: recorded.tables, done: 0 }]
            changeset = recorded.changeset
          }
          written = recorded.tables
        }
      } else {
        // synced and client-only events in one commit: record each event to check what it wrote
        const all = new Set<string>()
        applyAll((apply, name, isClientOnly) => {
          const recorded = this.record(apply)
          this.checkWrites(`"${name}"`, isClientOnly, recorded.tables)
          for (const t of recorded.tables) all.add(t)
          if (!isClientOnly) entries.push({ records: [], changeset: recorded.changeset, tables: recorded.tables, done: 0 })
        })
        written = all
      }
    })
    this.localHead = head
    const hint: CommitHint = { count: records.length, base: this.stateToken, changeset, writes }
    this.stateToken = records[records.length - 1]!.eventId
    const synced = mixed ? records.filter((r) => !r.clientOnly) : clientOnly ? [] : records
    // each mixed entry undoes one synced event, in order
    if (mixed) entries.forEach((e, i) => (e.records = [synced[i]!]))
    this.undo.push(...entries)
    if (synced.length > 0) {
      // Appended in place: copying the list made a burst of commits (an import loop, before the
      // leader confirms any) quadratic. The store is the only holder of its sync state's list.
      const pending = this.sync.pending as EventRecord[]
      for (const r of synced) pending.push(r)
    }
    this.clientOnlyUnpersisted += records.length - synced.length
    this.graph.bump(written)
    this.statusVersion.value++
    return this.enqueue(records, synced[synced.length - 1]?.eventId, hint)
  }
  /**
   * Reads a definition (or runs a builder/raw query) synchronously. A query definition read
   * without a subscription keeps its result and answers later reads from it, in this task or a
   * later one, until a commit writes a table it reads; so results depend only on the tables a
   * query reads (pass the time as a bind value, not `datetime('now')`).
   *
   * @example
   * const open = store.query(open$)   // runs the query
   * store.query(open$) === open       // true while `todos` is unchanged
   */
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

  /** Where this store stands with sync. Reactive as `syncStatus$`. */
  get syncStatus(): SyncStatus {
    const l = this.leaderStatus
    return {
      pending: this.sync.pending.length + this.clientOnlyUnpersisted,
      localHead: formatSeqNum(this.localHead),
      leaderHead: formatSeqNum(l.head),
      serverHead: l.serverHead === null ? null : `e${l.serverHead}`,
      connected: l.connected,
      error: l.error,
    }
  }

  /**
   * The leader's eventlog with sequence numbers and statuses (devtools).
   *
   * @example
   * (await store.readEventlog()).map((e) => `${formatSeqNum(e.seqNum)} ${e.name} ${e.status}`)
   */
  async readEventlog(): Promise<LogEntry[]> {
    this.assertOpen('readEventlog')
    return this.leader.readLog()
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

  /** Why the store was shut down (e.g. the sync server was reset), or undefined while it runs. */
  get shutdownCause(): string | undefined {
    return this.shutdownReason
  }

  /**
   * Hands every committed event to the leader, then releases the session. Events the server
   * has not confirmed yet stay in the leader's log and are pushed by the next session.
   */
  async shutdown(reason = 'shutdown() was called'): Promise<void> {
    if (this.shutdownReason !== undefined) return
    this.shutdownReason = reason
    await this.drain()
    this.unsubscribeLeader()
    for (const [, waiter] of this.confirmWaiters) waiter.reject(new StoreShutdownError('confirm', reason))
    this.confirmWaiters.clear()
    this.graph.dispose()
    this.db.close()
    await this.leader.close()
    this.statusVersion.value++
  }

  private onLeaderMessage(message: LeaderMessage): void {
    if (this.shutdownReason !== undefined) return
    if (this.resyncing !== undefined && message.type === 'upstream') {
      this.held.push(message)
      return
    }
    try {
      if (message.type === 'status') {
        this.leaderStatus = message.status
        this.statusVersion.value++
      } else if (message.type === 'upstream') {
        this.leaderStatus = message.status
        this.receiveUpstream(message.events)
      } else void this.shutdown(message.reason)
    } catch (e) {
      this.reportError(e)
    }
  }

  /**
   * Events whose order is final arrived: confirm ours that they match, or roll back what
   * diverged, apply them, and replay our pending events on top (see sync-state.ts). One
   * transaction, then one refresh of the tables that changed.
   */
  private receiveUpstream(incoming: readonly EventRecord[]): void {
    const result = mergeUpstream(this.sync, incoming, withSeqNum)
    if (result.type === 'rejected') {
      this.reportError(new CairnError('SyncOutOfOrder', `The leader sent events out of order: ${result.reason}.`))
      return
    }
    if (result.state === this.sync) return
    // our state now holds events the leader materialized in another order or batch
    if (result.rollback.length > 0 || result.apply.length > 0) this.stateToken = null
    const touched = new Set<string>()
    const confirmedById = () => new Map(result.confirmed.map((e) => [e.eventId, e]))
    if (result.rollback.length === 0) {
      this.markDone(result.confirmed)
      if (result.apply.length > 0) {
        const recorded = this.record(() => this.applyAll(result.apply))
        for (const t of recorded.tables) touched.add(t)
      }
    } else {
      const firstRolledBack = result.rollback[0]!.eventId
      const from = this.undo.findIndex((u) => u.records.some((r) => r.eventId === firstRolledBack))
      if (this.undo.slice(from).some((u) => u.changeset === undefined)) {
        this.resync()
        return
      }
      const undoBefore = [...this.undo]
      try {
        this.withPendingArgs(() => this.rebase(from, firstRolledBack, confirmedById(), result, touched))
      } catch (e) {
        // The recorded undo no longer fits this session's state (a materializer that is not
        // deterministic, or state written behind the store's back). The transaction left the
        // state as it was; reload the leader's state instead of guessing.
        this.undo.splice(0, this.undo.length, ...undoBefore)
        this.resync(e)
        return
      }
    }
    this.afterUpstream(result, touched)
  }

  private rebase(
    from: number,
    firstRolledBack: string,
    confirmedById: ReadonlyMap<string, EventRecord>,
    result: Extract<ReturnType<typeof mergeUpstream<EventRecord>>, { type: 'merged' }>,
    touched: Set<string>,
  ): void {
    {
      this.db.transaction(() => {
        const reverted = this.undo.splice(from)
        this.db.revertAll(reverted.flatMap((entry) => (entry.changeset == null ? [] : [entry.changeset])))
        for (const entry of reverted) for (const t of entry.tables) touched.add(t)
        // the first undone entry may hold confirmed events before the divergence: they come back first
        const head = reverted[0]!
        const redo = head.records
          .slice(
            0,
            head.records.findIndex((r) => r.eventId === firstRolledBack),
          )
          .map((r) => confirmedById.get(r.eventId) ?? r)
        const applied = this.db.recordChanges(() => this.applyAll([...redo, ...result.apply]))
        for (const t of applied.tables) touched.add(t)
        this.undo.length = 0
        if (result.replay.length > 0) {
          const replayed = this.db.recordChanges(() => this.applyAll(result.replay))
          for (const t of replayed.tables) touched.add(t)
          this.undo.push({ records: [...result.replay], changeset: replayed.changeset, tables: replayed.tables, done: 0 })
        }
      })
    }
  }

  private afterUpstream(result: Extract<ReturnType<typeof mergeUpstream<EventRecord>>, { type: 'merged' }>, touched: Set<string>): void {
    this.sync = result.state
    const last = this.sync.pending[this.sync.pending.length - 1]
    const upstream: SeqNum = { global: this.sync.upstreamHead, client: 0, rebaseGeneration: 0 }
    this.localHead = last !== undefined ? last.seqNum : compareSeqNum(this.localHead, upstream) > 0 ? this.localHead : upstream
    const waiters = this.confirmWaiters
    for (const list of [result.confirmed, result.apply]) {
      for (let i = 0; i < list.length && waiters.size > 0; i++) {
        const waiter = waiters.get(list[i]!.eventId)
        if (waiter !== undefined) {
          waiters.delete(list[i]!.eventId)
          waiter.resolve()
        }
      }
    }
    this.graph.bump(touched)
    this.statusVersion.value++
  }

  /**
   * Reloads this session from the leader: its state snapshot and pending events, then the
   * events this session committed since (still in the outbox, held back meanwhile). Upstream
   * messages that arrive in between are held and merged afterwards (re-deliveries are ignored).
   */
  private resync(cause?: unknown): void {
    if (this.resyncing !== undefined) return
    if (cause !== undefined)
      this.reportError(
        new CairnError(
          'SessionResync',
          `This session's state no longer matched its recorded changes while rebasing (${(cause as Error)?.message ?? cause}); it reloads the leader's state. No event is lost.`,
          { cause },
        ),
      )
    this.resyncing = (async () => {
      try {
        await this.flushing // what was already handed to the leader is in its snapshot
        const boot = await this.leader.boot()
        if (this.shutdownReason === undefined) this.reload(boot)
      } catch (e) {
        this.reportError(e)
      } finally {
        this.resyncing = undefined
        const held = this.held
        this.held = []
        for (const message of held) this.onLeaderMessage(message)
        if (this.outbox.length > 0) this.scheduleFlush()
      }
    })()
  }

  private reload(boot: SessionBoot): void {
    this.withPendingArgs(() => this.reloadFrom(boot))
  }

  private reloadFrom(boot: SessionBoot): void {
    const local = this.outbox.flatMap((entry) => entry.records)
    this.db.load(boot.snapshot)
    for (const table of INTERNAL_TABLES) this.db.exec(`DROP TABLE IF EXISTS ${table}`)
    this.leaderStatus = boot.status
    const { state, numbered } = addLocal<EventRecord>(
      initialSyncState(boot.upstreamHead, boot.pending, boot.rebaseGeneration),
      local.filter((r) => !r.clientOnly),
      withSeqNum,
    )
    this.sync = state
    this.undo.length = 0
    const synced = [...boot.pending, ...numbered]
    if (synced.length > 0) {
      const recorded = this.record(() => this.applyAll(synced))
      this.undo.push({ records: synced, changeset: recorded.changeset, tables: recorded.tables, done: 0 })
    }
    // client-only events are final (never undone) and write only client-only tables, so they
    // commute with the synced ones
    const clientOnly = local.filter((r) => r.clientOnly)
    if (clientOnly.length > 0) this.applyAll(clientOnly)
    const last = this.sync.pending[this.sync.pending.length - 1]
    this.localHead = last !== undefined ? last.seqNum : boot.head
    this.graph.bump(this.db.selectColumn("SELECT name FROM sqlite_schema WHERE type = 'table'") as string[])
    this.statusVersion.value++
  }

  /** Runs `fn` with `pendingArgs` built from the pending events as they are now. */
  private withPendingArgs(fn: () => void): void {
    const byId = new Map<string, unknown>()
    for (const r of this.sync.pending) if (r.args !== undefined) byId.set(r.eventId, r.args)
    this.pendingArgs = byId
    try {
      fn()
    } finally {
      this.pendingArgs = undefined
    }
  }

  private record(fn: () => void): RecordedChanges {
    return this.undoable ? this.db.recordChanges(fn) : { changeset: undefined, tables: this.db.recordTables(fn) }
  }

  /** Confirmed in place: undo entries whose events are all confirmed are dropped (never undone). */
  private markDone(confirmed: readonly EventRecord[]): void {
    let remaining = confirmed.length
    // The confirmed events are the oldest pending ones, in order, so they match the undo records
    // one by one; by eventId (a map of them all) only if not.
    let next = 0
    let byId: ReadonlyMap<string, EventRecord> | undefined
    while (remaining > 0 && this.undo.length > 0) {
      const entry = this.undo[0]!
      while (entry.done < entry.records.length && remaining > 0) {
        const record = entry.records[entry.done]!
        let final: EventRecord | undefined
        if (byId === undefined && confirmed[next]?.eventId === record.eventId) final = confirmed[next++]
        else final = (byId ??= new Map(confirmed.map((e) => [e.eventId, e]))).get(record.eventId)
        if (final === undefined) break
        entry.records[entry.done] = final
        entry.done++
        remaining--
      }
      if (entry.done === entry.records.length) this.undo.shift()
      else break
    }
  }

  /**
   * Materializes events whose order is final or that are replayed. A failing materializer skips
   * that event's writes (the same on every client) and is reported. Optimistic: one savepoint
   * for all, and one per event only when something failed.
   */
  private applyAll(events: readonly EventRecord[]): void {
    if (events.length === 0) return
    try {
      this.db.transaction(() => events.forEach((e) => this.applyOne(e)))
    } catch (e) {
      if (!(e instanceof MaterializerError)) throw e
      for (const event of events) {
        try {
          this.db.transaction(() => this.applyOne(event))
        } catch (e) {
          if (!(e instanceof MaterializerError)) throw e
          this.reportError(e)
        }
      }
    }
  }

  private applyOne(event: EventRecord): void {
    const args = event.args !== undefined ? event.args : this.pendingArgs?.get(event.eventId)
    if (!this.materialization.apply(event, args) && this.schema.unknownEventHandling === 'fail') {
      this.reportError(
        new CairnError(
          'UnknownEvent',
          `Event "${event.name}" (${event.eventId}) from the server is not in this schema; it was kept and skipped.`,
        ),
      )
    }
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

  private enqueue(records: EventRecord[], lastSyncedId: string | undefined, hint: CommitHint): CommitHandle {
    const persisted = new Outcome()
    let confirmed = persisted
    if (lastSyncedId !== undefined) this.confirmWaiters.set(lastSyncedId, (confirmed = new Outcome()))
    if (records.length > 0) {
      this.outbox.push({ records, hint, persisted })
      this.scheduleFlush()
    } else persisted.resolve()
    return {
      get seqNums() {
        return records.map((r) => r.seqNum)
      },
      get persisted() {
        return persisted.promise
      },
      get confirmed() {
        return confirmed.promise
      },
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    queueMicrotask(() => {
      this.flushScheduled = false
      // while reloading, new commits wait: the reload applies them on top of the leader's snapshot
      if (this.resyncing === undefined) void this.drain()
    })
  }

  /** Sends the outbox to the leader, one batch at a time, until it is empty. */
  private drain(): Promise<void> {
    this.flushing ??= (async () => {
      try {
        // a reload (resync) takes what is left: it must not reach the leader before the snapshot
        while (this.outbox.length > 0 && this.resyncing === undefined) {
          const batch = this.outbox
          this.outbox = []
          const records = batch.flatMap((b) => b.records)
          try {
            const result = await this.leader.append(
              records,
              batch.map((b) => b.hint),
            )
            this.clientOnlyUnpersisted -= records.filter((r) => r.clientOnly).length
            this.statusVersion.value++
            for (const f of result.failures) this.reportError(f.error)
            for (const b of batch) b.persisted.resolve()
          } catch (e) {
            this.stateToken = null
            const error = new CairnError(
              'LeaderWriteFailed',
              `The leader could not store ${records.length} event(s): ${(e as Error)?.message ?? e}. They remain applied in this session.`,
              { cause: e },
            )
            this.reportError(error)
            for (const b of batch) b.persisted.reject(error)
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
