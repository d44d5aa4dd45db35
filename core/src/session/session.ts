import { computed as preactComputed, signal as preactSignal } from '@preact/signals-core'
import { CairnError, MaterializerError } from '../errors.ts'
import { Materialization } from '../events/materialize.ts'
import { shortId, type EventRecord } from '../events/record.ts'
import type { SeqNum } from '../events/seq-num.ts'
import type { LeaderPort } from '../leader/adapter.ts'
import type { CommitHint, LeaderMessage, LeaderStatus, SessionBoot } from '../leader/leader.ts'
import { deepEqual } from '../reactive/equal.ts'
import { ReactivityGraph } from '../reactive/graph.ts'
import type { Schema } from '../schema/schema.ts'
import type { RecordedChanges, SqliteDb } from '../sqlite/db.ts'
import { syncStatus$, type SyncStatus } from '../sync/status.ts'
import { formatSeqNum } from '../events/seq-num.ts'
import { initialSyncState, type SyncState } from '../sync/sync-state.ts'
import type { Outcome } from './outcome.ts'

/**
 * How to undo synced events applied in this session: one changeset covers `records` (a commit,
 * or everything replayed by a rebase). The first `done` records are confirmed already; undoing
 * the entry undoes them too, so a rebase re-applies them.
 */
export interface UndoEntry {
  records: EventRecord[]
  /** undefined: not recorded (a store without sync: a rebase reloads from the leader instead) */
  readonly changeset: Uint8Array | null | undefined
  readonly tables: ReadonlySet<string>
  done: number
}

/** Commits on their way to the leader. */
export interface OutboxEntry {
  readonly records: readonly EventRecord[]
  readonly hint: CommitHint
  readonly persisted: Outcome
}

/** What the parts of a session call across the store (kept out of imports: no cycles). */
export interface SessionHooks {
  /** Handles a message from the leader (held ones too, after a reload). */
  deliver(message: LeaderMessage): void
  /** Reloads the session from the leader (resync.ts). */
  resync(cause?: unknown): void
}

/**
 * The state of one session that its parts share: commit (commit.ts), rebase and undo
 * (rebase.ts), reload from the leader (resync.ts) and the outbox to the leader (outbox.ts).
 * `Store` is its public face.
 *
 * @internal
 */
export class Session {
  readonly sessionId = shortId()
  readonly graph: ReactivityGraph
  readonly materialization: Materialization
  /** Synced events of this session the server has not ordered yet. */
  sync: SyncState<EventRecord>
  /**
   * How many of `sync.pending`, from the first, the leader has logged in this order (its pending
   * log, other sessions' events included); the rest are ours on their way (leader-pending.ts).
   */
  leaderLogged: number
  readonly undo: UndoEntry[] = []
  localHead: SeqNum
  /** The last client-only event of the leader this session holds (see `receiveClientOnly`). */
  clientOnlyHead: SeqNum | undefined
  leaderStatus: LeaderStatus
  clientOnlyUnpersisted = 0
  /**
   * The leader's `stateToken` for this session's current state, when the leader, after taking
   * every commit so far, will hold exactly this state; null once that is unknown (a rebase, a
   * failed append). Lets the leader apply our changesets instead of materializing again.
   */
  stateToken: string | null
  /**
   * While a rebase or reload re-applies events: the validated args of this session's pending
   * events by eventId, for those that come back from the leader without them, so a replay skips
   * parsing and validating. Built only then: a map kept up to date cost two hash operations per
   * committed event.
   */
  pendingArgs: ReadonlyMap<string, unknown> | undefined
  /** Resolvers of `handle.confirmed`, by the last synced eventId of the commit. */
  readonly confirmWaiters = new Map<string, Outcome>()
  outbox: OutboxEntry[] = []
  /** Set while the session reloads from the leader (see resync.ts). */
  resyncing: Promise<void> | undefined
  /** Upstream messages that arrived during a reload, handled after it. */
  held: LeaderMessage[] = []
  flushScheduled = false
  flushing: Promise<void> | undefined
  shutdownReason: string | undefined
  /** Bumped whenever a field of the sync status changes; the status object is built lazily. */
  readonly statusVersion = preactSignal(0)

  constructor(
    readonly schema: Schema,
    readonly leader: LeaderPort,
    readonly db: SqliteDb,
    boot: SessionBoot,
    readonly reportError: (error: unknown) => void,
    /**
     * With a sync backend, other clients' events land before ours and every commit keeps its
     * undo (a changeset). Without one, the leader confirms each commit in order and only another
     * session of the same leader can get in between; recording just the written tables keeps
     * commits cheap, and that rare rebase reloads from the leader instead.
     */
    readonly undoable: boolean,
    readonly hooks: SessionHooks,
  ) {
    this.leaderStatus = boot.status
    this.localHead = boot.head
    this.clientOnlyHead = boot.clientOnlyHead
    this.stateToken = boot.pending.length === 0 ? (boot.stateToken ?? null) : null
    this.sync = initialSyncState(boot.upstreamHead, [...boot.pending], boot.rebaseGeneration)
    this.leaderLogged = boot.pending.length
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
        const next = this.syncStatus()
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
  }

  get clientId(): string {
    return this.leaderStatus.clientId
  }

  syncStatus(): SyncStatus {
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

  /** Runs `fn` with `pendingArgs` built from the pending events as they are now. */
  withPendingArgs(fn: () => void): void {
    const byId = new Map<string, unknown>()
    for (const r of this.sync.pending) if (r.args !== undefined) byId.set(r.eventId, r.args)
    this.pendingArgs = byId
    try {
      fn()
    } finally {
      this.pendingArgs = undefined
    }
  }

  record(fn: () => void): RecordedChanges {
    return this.undoable ? this.db.recordChanges(fn) : { changeset: undefined, tables: this.db.recordTables(fn) }
  }

  /**
   * Materializes events whose order is final or that are replayed. A failing materializer skips
   * that event's writes (the same on every client) and is reported. Optimistic: one savepoint
   * for all, and one per event only when something failed.
   */
  applyAll(events: readonly EventRecord[]): void {
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
}
