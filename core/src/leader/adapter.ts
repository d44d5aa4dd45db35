import { CairnError } from '../errors.ts'
import type { EventRecord } from '../events/record.ts'
import type { AppendResult, BootProgress, BootStatus, CommitHint, LeaderMessage, LogEntry, SessionBoot } from './leader.ts'
import type { SyncOptions } from '../sync/leader-sync.ts'
import { hostLeader } from './host.ts'
import type { Schema } from '../schema/schema.ts'
import { SqliteDb } from '../sqlite/db.ts'

export interface OpenLeaderOptions {
  readonly storeId: string
  readonly schema: Schema
  /** Where the boot stands (the leader reports `rehydrating` with progress while it rebuilds state). */
  readonly onBootStatus?: ((status: BootStatus) => void) | undefined
  /** @deprecated use `onBootStatus` */
  readonly onProgress?: ((progress: BootProgress) => void) | undefined
  readonly warn?: ((message: string) => void) | undefined
  readonly reportError?: ((error: unknown) => void) | undefined
  /** Sync with a server; without it the leader is the authority and confirms events itself. */
  readonly sync?: SyncOptions | undefined
}

/**
 * The session's view of its client's leader. Asynchronous because the leader may live in a
 * worker or another process; the in-memory adapter runs it in-process.
 */
export interface LeaderPort {
  readonly clientId: string
  /** Where the leader keeps its data, e.g. `'opfs'`; `'in-memory'` when absent (see `Store.storageMode`). */
  readonly storageMode?: string
  /**
   * The leader syncs with a server configured on its side (e.g. in a worker) rather than through
   * `createStorePromise({ sync })`: sessions then keep the undo a rebase needs.
   */
  readonly syncing?: boolean
  boot(): Promise<SessionBoot>
  /** `commits` lets an in-process leader skip re-materializing (see `Leader.append`); optional. */
  append(events: readonly EventRecord[], commits?: readonly CommitHint[]): Promise<AppendResult>
  /** The leader's log with statuses (devtools, tests). */
  readLog(): Promise<LogEntry[]>
  /**
   * Drops the event the sync server refused for good (see `Store.dropRefusedEvent`). Optional:
   * a port without it cannot drop, and the store says so.
   */
  dropRefusedEvent?(eventId: string): Promise<void>
  /**
   * Rebuilds the leader's state from its confirmed log, reporting progress through the
   * `onBootStatus` the port was opened with, then tells every session to reload (a `reload`
   * message). Optional: `store.rematerialize()` says so when the adapter lacks it.
   */
  rematerialize?(): Promise<void>
  /** Messages from the leader: newly ordered events, status changes, shutdown. */
  subscribe(listener: (message: LeaderMessage) => void): () => void
  close(): Promise<void>
}

/** A platform adapter: where the leader runs and how it persists. */
export interface Adapter {
  readonly name: string
  openLeader(options: OpenLeaderOptions): Promise<LeaderPort>
}

/**
 * Keeps each store's leader database in memory, inside this adapter object: shutting a store
 * down and creating it again with the same adapter boots from what the leader holds (as a
 * page reload would with a persisted adapter). Nothing survives the process. `clientId` fixes
 * the id a new client gets (tests); by default it is random.
 *
 * @example
 * const store = await createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: 'demo' })
 */
export function makeInMemoryAdapter(options: { readonly clientId?: string } = {}): Adapter {
  const databases = new Map<string, SqliteDb>()
  const open = new Set<string>()
  return {
    name: 'in-memory',
    async openLeader(leaderOptions) {
      const { storeId } = leaderOptions
      if (open.has(storeId)) {
        throw new CairnError(
          'StoreAlreadyOpen',
          `Store "${storeId}" is already open on this in-memory adapter; shut the other store down first, or use another adapter instance.`,
        )
      }
      // taken before the first await: two opens started together must not both get in
      open.add(storeId)
      try {
        let db = databases.get(storeId)
        if (db === undefined) {
          db = await SqliteDb.open()
          databases.set(storeId, db)
        }
        const leaderDb = db
        return hostLeader(leaderDb, {
          ...leaderOptions,
          clientId: options.clientId,
          reset: () => {
            // the next store created with this adapter starts empty and syncs from the server
            if (databases.get(storeId) === leaderDb) databases.delete(storeId)
          },
          onClose: () => {
            open.delete(storeId)
          },
        })
      } catch (e) {
        open.delete(storeId)
        throw e
      }
    },
  }
}
