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
  /** Why sync is stalled (a refused push, an auth failure), or null. Nothing is lost meanwhile. */
  readonly error: { readonly code: string; readonly message: string } | null
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
