// What the leader and its sessions (and adapters carrying them) exchange: the shapes of a
// session's boot, a commit's hint, an append's result, the leader's messages and status.
import type { MaterializerError } from '../errors.ts'
import type { EventRecord } from '../events/record.ts'
import type { SeqNum } from '../events/seq-num.ts'
import type { RecordedWrites, SqliteDb } from '../sqlite/db.ts'
import type { SyncStatusError } from '../sync/status.ts'

/**
 * Where a store's boot stands, the same stages for every adapter: `loading` (opening the
 * leader's storage), `rehydrating` (rebuilding state from the eventlog after a schema change,
 * with `progress`), `done` (the store serves reads). `store.rematerialize()` reports
 * `rehydrating` and `done` the same way.
 */
export type BootStage = 'loading' | 'rehydrating' | 'done'

export interface BootStatus {
  readonly stage: BootStage
  /** Events replayed so far out of `total` (while rehydrating). */
  readonly progress?: { readonly done: number; readonly total: number }
}

/**
 * Reported while state is rebuilt from the eventlog after a schema change.
 * @deprecated use `BootStatus` (`onBootStatus`), which every adapter reports.
 */
export interface BootProgress {
  readonly phase: 'rebuilding'
  readonly done: number
  readonly total: number
}

/** What a session needs to start: the leader's state and the events it has not confirmed yet. */
export interface SessionBoot {
  readonly clientId: string
  /**
   * The leader's database: serialized, or (from a leader in the same process) a copy ready to
   * use, which the session takes over.
   */
  readonly snapshot: Uint8Array | SqliteDb
  /** Synced events in the log the server has not ordered yet; the session applies them on top of the snapshot. */
  readonly pending: readonly EventRecord[]
  /** The last global number confirmed (by the server, or by the leader without one). */
  readonly upstreamHead: number
  readonly rebaseGeneration: number
  /** The head of the log: the last pending event, or the last confirmed one. */
  readonly head: SeqNum
  readonly status: LeaderStatus
  /** Names the leader's state at the snapshot (see `CommitHint.base`). */
  readonly stateToken?: string | undefined
  /**
   * The number of the last client-only event in the snapshot: `clientOnly` messages about
   * events up to it are re-deliveries. Absent: the session tells them apart by session only.
   */
  readonly clientOnlyHead?: SeqNum | undefined
}

/**
 * What a session knows about one commit of an `append` batch, so that the leader can apply the
 * session's changeset instead of running the materializers again (in-process only; optional).
 */
export interface CommitHint {
  /** How many events of the batch, in order, belong to this commit. */
  readonly count: number
  /**
   * The leader's `stateToken` the session's state stood at before the commit: the snapshot's
   * token, or the last eventId of the previous commit. Null when the session cannot tell.
   */
  readonly base: string | null
  /** The commit's recorded changes (null: it changed nothing); undefined: see `writes`. */
  readonly changeset: Uint8Array | null | undefined
  /**
   * The write statements the commit ran, with their bind values, for the leader to run instead
   * of the materializers (used when there is no changeset). Neither: materialize it.
   */
  readonly writes?: RecordedWrites | undefined
}

export interface AppendResult {
  /** Numbers the leader gave the events, in order. */
  readonly assigned: readonly SeqNum[]
  /** Events that were logged but whose materialization failed in the leader. */
  readonly failures: readonly { readonly eventId: string; readonly error: MaterializerError }[]
}

/** What the leader tells its sessions. Plain data: it may cross a worker boundary. */
export type LeaderMessage =
  /** Events whose order is now final, continuing the confirmed log (global numbers). */
  | { readonly type: 'upstream'; readonly events: readonly EventRecord[]; readonly status: LeaderStatus }
  /**
   * Synced events the leader just logged as pending (with a sync backend), numbered where they
   * continue its pending log: the sessions show them at once (a commit of another tab) and
   * order their own unlogged events after them; the server's order comes later as `upstream`.
   */
  | { readonly type: 'pending'; readonly events: readonly EventRecord[]; readonly status: LeaderStatus }
  /**
   * Client-only events the leader just logged and materialized (their order is final at once):
   * the client's other sessions (tabs) apply those they did not commit themselves.
   */
  | { readonly type: 'clientOnly'; readonly events: readonly EventRecord[]; readonly status: LeaderStatus }
  | { readonly type: 'status'; readonly status: LeaderStatus }
  /** The leader rebuilt its state (`rematerialize`): sessions reload from a new snapshot. */
  | { readonly type: 'reload'; readonly status: LeaderStatus }
  /** The leader stopped serving this store (e.g. the sync server was reset); sessions shut down. */
  | { readonly type: 'shutdown'; readonly reason: string }
  /**
   * A pending event was taken out of the log (refused by the server, dropped by the app): a
   * session that holds it rolls back its pending events and replays them without it.
   */
  | { readonly type: 'dropped'; readonly eventId: string; readonly status: LeaderStatus }

export interface LeaderStatus {
  readonly clientId: string
  readonly head: SeqNum
  readonly upstreamHead: number
  readonly serverHead: number | null
  readonly connected: boolean
  readonly error: SyncStatusError | null
  /**
   * The largest event (its args' JSON, in UTF-8 bytes) the sync server takes, as it announced
   * (or, before the first connection, the sync options said); sessions refuse larger synced
   * events at commit. Null (or absent) without sync: nothing to check.
   */
  readonly maxEventBytes?: number | null
}

/** An event of the leader's log as devtools show it. */
export interface LogEntry extends EventRecord {
  /** `pending`: not ordered by the server yet; `confirmed`: final (client-only events are final when logged). */
  readonly status: 'pending' | 'confirmed'
}

/** An event in the leader's log; synced events get a producerSeq when logged. */
export interface LoggedEvent extends EventRecord {
  readonly producerSeq: number
}

export interface LeaderOptions {
  readonly clientId: string
  /** Rebuild progress (stage `rehydrating`), at least every ~100 ms while it runs. */
  readonly onBootStatus?: ((status: BootStatus) => void) | undefined
  /** @deprecated use `onBootStatus` */
  readonly onProgress?: ((progress: BootProgress) => void) | undefined
  readonly warn?: ((message: string) => void) | undefined
  /** Reports failures nobody awaits (a materializer failing on an upstream event). */
  readonly reportError?: ((error: unknown) => void) | undefined
}
