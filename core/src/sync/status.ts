import { signal, type SignalDef } from '../reactive/query-def.ts'

/** Where a store stands with sync; read `store.syncStatus` or subscribe to `syncStatus$`. */
export interface SyncStatus {
  /** Events committed in this session and not yet confirmed. */
  readonly pending: number
  /** The session's head, e.g. `e7` (provisional while events are pending). */
  readonly localHead: string
  /** The head of the leader's log. */
  readonly leaderHead: string
  /** The server's head as last seen, or null before the first connection (or without a backend). */
  readonly serverHead: string | null
  readonly connected: boolean
  /**
   * Why sync is stalled (a refused event, a refused token, a failure in the connection), or null.
   * Nothing is lost meanwhile. A refused event is named in `error.event`; see `onSyncError`.
   */
  readonly error: SyncStatusError | null
}

/** What stalls sync, as `syncStatus.error` and `onSyncError` show it. */
export interface SyncStatusError {
  /** The `SyncError` code (`Invalid`, `Forbidden`, `TooLarge`, `Unauthorized`, `Protocol`…). */
  readonly code: string
  readonly message: string
  /**
   * Set when the server refused one event for good (`Invalid`, `Forbidden`, `TooLarge`): this
   * client pushes nothing after it until the app drops it (`store.dropRefusedEvent(eventId)`)
   * or the server accepts it on a later connection.
   */
  readonly event?: RefusedEvent
}

/** An event the sync server refused for good. */
export interface RefusedEvent {
  readonly eventId: string
  readonly name: string
  /** The event's args (JSON), as pushed. */
  readonly args: unknown
  /** The server's reason (`Invalid { reason }`), when it gave one. */
  readonly reason: string | undefined
}

/**
 * The store's sync status as a reactive definition: use it like any query.
 *
 * @example
 * store.subscribe(syncStatus$, (s) => render(`${s.pending} pending, ${s.connected ? 'online' : 'offline'}`))
 * const status = useQuery(syncStatus$)   // React, Vue, Svelte, Solid adapters
 */
export const syncStatus$: SignalDef<SyncStatus> = signal<SyncStatus>(
  { pending: 0, localHead: 'e0', leaderHead: 'e0', serverHead: null, connected: false, error: null },
  { label: 'syncStatus' },
)
