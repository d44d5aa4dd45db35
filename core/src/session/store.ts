import type { Adapter, LeaderPort } from '../leader/adapter.ts'
import { CairnError, SchemaError, StoreShutdownError } from '../errors.ts'
import {
  INTERNAL_TABLES,
  type BootProgress,
  type BootStatus,
  type LeaderMessage,
  type LogEntry,
  type SessionBoot,
} from '../leader/leader.ts'
import { ComputedDef, LiveQueryDef, SignalDef, type Def } from '../reactive/query-def.ts'
import type { InstanceInfo } from '../reactive/graph.ts'
import type { EventInput } from '../schema/events.ts'
import type { Queryable } from '../schema/query-builder.ts'
import type { Schema } from '../schema/schema.ts'
import { SqliteDb } from '../sqlite/db.ts'
import type { SyncStatus, SyncStatusError } from '../sync/status.ts'
import type { SyncOptions } from '../sync/leader-sync.ts'
import { commitEvents, type CommitHandle } from './commit.ts'
import { drain } from './outbox.ts'
import { receiveClientOnly, receivePending } from './leader-pending.ts'
import { dropEvent, receiveUpstream } from './rebase.ts'
import { resync } from './resync.ts'
import { Session } from './session.ts'

export type { CommitHandle, SyncStatus }

export interface CreateStoreOptions<S extends Schema = Schema> {
  readonly schema: S
  readonly adapter: Adapter
  /** Clients with the same storeId share one eventlog. */
  readonly storeId: string
  /**
   * Where the boot stands, the same stages with every adapter: `loading`, then `rehydrating`
   * with `{ done, total }` (at least every ~100 ms) when the state is rebuilt from the eventlog
   * after a schema change, then `done`.
   *
   * @example
   * onBootStatus: (s) => console.log(s.stage, s.progress) // 'rehydrating' { done: 40000, total: 100000 }
   */
  readonly onBootStatus?: (status: BootStatus) => void
  /** @deprecated use `onBootStatus` (stage `rehydrating`). Progress of a state rebuild after a schema change. */
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
  /**
   * Called when `syncStatus.error` turns to a new error: a refused token, a failure in the
   * connection, or an event the server refused for good (`error.event`: its id, name, args and
   * the server's reason). Such an event stops the push queue (nothing committed after it is
   * sent; nothing is lost) until the app drops it with `store.dropRefusedEvent`, or the server
   * takes it on a later connection. Keeping the queue stopped is the default: dropping loses
   * the event's effects, which only the app can judge.
   *
   * @example
   * onSyncError: (error, store) => {
   *   if (error.event !== undefined && error.code === 'Invalid') void store.dropRefusedEvent(error.event.eventId)
   *   else showBanner(error.message)
   * }
   */
  readonly onSyncError?: (error: SyncStatusError, store: Store<S>) => void
}

export interface SubscribeOptions {
  /** Receives errors of the query; without it they go to the store's `onError`. */
  readonly onError?: (error: unknown) => void
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
  const onBootStatus = options.onBootStatus
  onBootStatus?.({ stage: 'loading' })
  const port = await adapter.openLeader({
    storeId,
    schema,
    onBootStatus,
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
    const store = new Store(schema, storeId, port, db, boot, reportError, options.sync !== undefined || port.syncing === true, onBootStatus)
    if (options.onSyncError !== undefined) store.onSyncError = options.onSyncError as (error: SyncStatusError, store: Store) => void
    onBootStatus?.({ stage: 'done' })
    return store
  } catch (e) {
    db?.close()
    // the boot's error is the one to throw; a failing close is reported beside it
    await port.close().catch(reportError)
    throw e
  }
}

/**
 * A session of a store: commits events synchronously into its in-memory SQLite, serves reactive
 * queries from its graph, and hands events to its client's leader in the background.
 */
export class Store<S extends Schema = Schema> {
  readonly sessionId: string
  private readonly session: Session
  private readonly unsubscribeLeader: () => void
  /** Set while this session reloads after the leader rebuilt its state. */
  private reloading: Promise<void> | undefined
  private reloads = 0
  /** @internal set by createStorePromise (`onSyncError`) */
  onSyncError: ((error: SyncStatusError, store: Store) => void) | undefined
  /** The last status error `onSyncError` was told about (code, message, event), to tell each once. */
  private reportedSyncError: string | undefined

  /** @internal use createStorePromise */
  constructor(
    readonly schema: S,
    readonly storeId: string,
    private readonly leader: LeaderPort,
    private readonly db: SqliteDb,
    boot: SessionBoot,
    private reportError: (error: unknown) => void,
    undoable: boolean = true,
    private readonly onBootStatus?: (status: BootStatus) => void,
  ) {
    this.session = new Session(schema, leader, db, boot, (e) => this.reportError(e), undoable, {
      deliver: (message) => this.onLeaderMessage(message),
      resync: (cause) => resync(this.session, cause),
    })
    this.sessionId = this.session.sessionId
    this.unsubscribeLeader = leader.subscribe((message) => this.onLeaderMessage(message))
    // an error standing at boot is told once the store is the app's (after createStorePromise resolved)
    if (boot.status.error !== null) setTimeout(() => this.noticeSyncError(), 0)
  }

  /** The id of this client (device); it changes only if another client turned out to use the same one. */
  get clientId(): string {
    return this.session.clientId
  }

  /**
   * Where the leader keeps this store: `'in-memory'` (nothing survives a reload), or what the
   * adapter persists to, e.g. `'opfs'` in a browser. A web adapter that found no OPFS says
   * `'in-memory'` and warns at boot.
   */
  get storageMode(): string {
    return this.leader.storageMode ?? 'in-memory'
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
    return commitEvents(this.session, events)
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
    if (query instanceof LiveQueryDef || query instanceof ComputedDef || query instanceof SignalDef) return this.session.graph.read(query)
    return this.session.materialization.read(query, this.sessionId)
  }

  /**
   * Calls `listener` now with the current result and after every change of it. Returns the
   * function that unsubscribes; the query instance is released when nothing uses it.
   */
  subscribe<T>(def: Def<T>, listener: (value: T) => void, options?: SubscribeOptions): () => void {
    this.assertOpen('subscribe')
    return this.session.graph.subscribe(def, listener, options?.onError ?? this.reportError)
  }

  setSignal<T>(def: SignalDef<T>, value: T): void {
    this.assertOpen('setSignal')
    this.session.graph.setSignal(def, value)
  }

  /** Where this store stands with sync. Reactive as `syncStatus$`. */
  get syncStatus(): SyncStatus {
    return this.session.syncStatus()
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

  /**
   * Drops the event the sync server refused for good (`syncStatus.error.event`), so the events
   * committed after it are pushed: the leader takes it out of its log and every session rolls
   * its effects back (the later pending events are replayed without it; one that depended on
   * it may then fail its materializer and be skipped, reported through `onError`). Its commit's
   * `handle.confirmed` rejects with `EventDropped`. Throws `NotRefused` when `eventId` is not
   * the refused event.
   *
   * @example
   * const refused = store.syncStatus.error?.event
   * if (refused !== undefined) await store.dropRefusedEvent(refused.eventId)
   */
  async dropRefusedEvent(eventId: string): Promise<void> {
    this.assertOpen('dropRefusedEvent')
    if (this.leader.dropRefusedEvent === undefined) {
      throw new CairnError(
        'Unsupported',
        `The adapter of store "${this.storeId}" cannot drop refused events (its leader port has no dropRefusedEvent).`,
      )
    }
    await this.leader.dropRefusedEvent(eventId)
  }

  /**
   * Rebuilds the state from the eventlog now, as a boot does after a schema change: the
   * leader replays its confirmed events through the current materializers (reporting
   * `rehydrating` with `{ done, total }` to `onBootStatus`, then `done`), and every session of
   * this client reloads, its pending events applied again on top. The eventlog is not changed
   * and no event is lost. Use it after fixing a materializer whose change the schema cannot
   * see (a helper it calls), or from devtools. With `@cairn/adapter-web` the leader's tab
   * reports the progress; every tab reloads and reports `done`.
   *
   * @example
   * await store.rematerialize() // onBootStatus: rehydrating { done: 0, total: 1200 } ... done
   */
  async rematerialize(): Promise<void> {
    this.assertOpen('rematerialize')
    const s = this.session
    if (this.leader.rematerialize === undefined) {
      throw new CairnError(
        'RematerializeUnsupported',
        `Store "${this.storeId}": this adapter's leader cannot rebuild on demand (its LeaderPort has no rematerialize). Change makeState's version and reopen the store to rebuild at boot instead.`,
      )
    }
    // what this session committed goes first, so that the reload starts from a leader that has it
    await drain(s)
    const reloads = this.reloads
    await this.leader.rematerialize()
    // the leader's reload message started the reload in-process; a leader elsewhere may tell us later
    if (this.reloads === reloads) await this.reload()
    else await this.reloading
  }

  /**
   * Reloads this session from the leader's rebuilt state (its `reload` message, or our own
   * `rematerialize`), then reports `done` as a boot does.
   */
  private reload(): Promise<void> {
    const s = this.session
    const run = async () => {
      // a reload under way may have read the leader's state before the rebuild: one more after it
      while (s.resyncing !== undefined) await s.resyncing
      if (s.shutdownReason !== undefined) return
      resync(s)
      await s.resyncing
      if (s.shutdownReason === undefined) this.onBootStatus?.({ stage: 'done' })
    }
    this.reloads++
    const reloading = run().finally(() => {
      if (this.reloading === reloading) this.reloading = undefined
    })
    this.reloading = reloading
    return reloading
  }

  /** Live query instances with their run counts and tables (devtools). */
  inspect(): InstanceInfo[] {
    return this.session.graph.inspect()
  }

  /** How many times the instance of `def` ran in this store. */
  runsOf(def: Def): number {
    return this.session.graph.runsOf(def)
  }

  get isShutdown(): boolean {
    return this.session.shutdownReason !== undefined
  }

  /** Why the store was shut down (e.g. the sync server was reset), or undefined while it runs. */
  get shutdownCause(): string | undefined {
    return this.session.shutdownReason
  }

  /**
   * Hands every committed event to the leader, then releases the session. Events the server
   * has not confirmed yet stay in the leader's log and are pushed by the next session.
   */
  async shutdown(reason = 'shutdown() was called'): Promise<void> {
    const s = this.session
    if (s.shutdownReason !== undefined) return
    s.shutdownReason = reason
    await drain(s)
    this.unsubscribeLeader()
    for (const [, waiter] of s.confirmWaiters) waiter.reject(new StoreShutdownError('confirm', reason))
    s.confirmWaiters.clear()
    s.graph.dispose()
    this.db.close()
    await this.leader.close()
    s.statusVersion.value++
  }

  private onLeaderMessage(message: LeaderMessage): void {
    const s = this.session
    if (s.shutdownReason !== undefined) return
    if (
      s.resyncing !== undefined &&
      (message.type === 'upstream' || message.type === 'pending' || message.type === 'dropped' || message.type === 'clientOnly')
    ) {
      s.held.push(message)
      return
    }
    try {
      if (message.type === 'status') {
        s.leaderStatus = message.status
        s.statusVersion.value++
      } else if (message.type === 'upstream') {
        s.leaderStatus = message.status
        receiveUpstream(s, message.events)
      } else if (message.type === 'pending') {
        s.leaderStatus = message.status
        receivePending(s, message.events)
      } else if (message.type === 'dropped') {
        s.leaderStatus = message.status
        dropEvent(s, message.eventId)
      } else if (message.type === 'clientOnly') {
        s.leaderStatus = message.status
        receiveClientOnly(s, message.events)
      } else if (message.type === 'reload') {
        s.leaderStatus = message.status
        this.reload().catch((e: unknown) => this.reportError(e))
      } else this.shutdown(message.reason).catch((e: unknown) => this.reportError(e))
    } catch (e) {
      this.reportError(e)
    }
    if (message.type !== 'shutdown') this.noticeSyncError()
  }

  /** Tells `onSyncError` about a status error it has not been told about. */
  private noticeSyncError(): void {
    const error = this.session.leaderStatus.error
    const key = error === null ? undefined : `${error.code}\n${error.message}\n${error.event?.eventId ?? ''}`
    if (key === this.reportedSyncError) return
    this.reportedSyncError = key
    if (error === null || this.onSyncError === undefined || this.isShutdown) return
    try {
      this.onSyncError(error, this)
    } catch (e) {
      this.reportError(e)
    }
  }

  private assertOpen(operation: string): void {
    if (this.session.shutdownReason !== undefined) throw new StoreShutdownError(operation, this.session.shutdownReason)
  }
}
