// Runs a leader in this JS realm on an open database and serves it as a LeaderPort: what every
// platform adapter does once it has opened its storage (in memory, a Node file, OPFS in a worker).
import { CairnError } from '../errors.ts'
import { shortId } from '../events/record.ts'
import type { SqliteDb } from '../sqlite/db.ts'
import type { SparseImageReader } from '../sqlite/file-image.ts'
import { LeaderSync } from '../sync/leader-sync.ts'
import type { LeaderPort, OpenLeaderOptions } from './adapter.ts'
import { Leader } from './leader.ts'

export interface LeaderHostOptions extends OpenLeaderOptions {
  /** The id a new client gets (an id stored in the database wins). Default: a random one. */
  readonly clientId?: string | undefined
  /**
   * Called after each append's transaction committed; resolves once that transaction is durable
   * (a persisted adapter's fsync; commits made meanwhile may share one). The append resolves,
   * and so `handle.persisted`, and its events are pushed to the sync server, only after it.
   * Without it a committed transaction counts as durable (in memory).
   */
  readonly durable?: (() => Promise<void>) | undefined
  /** Where the leader keeps its data, e.g. `'file'` (see `Store.storageMode`); default `'in-memory'`. */
  readonly storageMode?: string | undefined
  /** Turns a storage failure into the error users see (naming the file and what to do). */
  readonly mapError?: ((error: unknown) => unknown) | undefined
  /** Clears the store's local data (sync's `'reset'` policy); the store shuts down after. */
  readonly reset?: (() => Promise<void> | void) | undefined
  /**
   * For a database in a file: `readSparseImage` from `@cairn/core`, so a session's copy holds
   * the state without reading the log into memory (see `SqliteDb.copyWithout`).
   */
  readonly readImage?: SparseImageReader | undefined
  /** Called once when the port closes, after sync stopped: release the database, files, locks. */
  readonly onClose?: (() => Promise<void> | void) | undefined
}

/**
 * Opens a leader on `db` (rebuilding its state when the schema changed) and serves it as the
 * port sessions talk to. Platform adapters call it once they opened their storage.
 *
 * @example
 * const db = await SqliteDb.open({ filename: 'todos.sqlite', vfs: 'opfs-sahpool' })
 * return hostLeader(db, { ...openOptions, durable: () => flushed(), onClose: () => db.close() })
 */
export function hostLeader(db: SqliteDb, options: LeaderHostOptions): LeaderPort {
  const { storeId, schema, warn, sync } = options
  const reportError = options.reportError ?? ((e: unknown) => console.error(e))
  const mapError = options.mapError ?? ((e: unknown) => e)
  const { onBootStatus, onProgress } = options
  let leader: Leader
  try {
    leader = Leader.open(db, schema, { clientId: options.clientId ?? shortId(), onBootStatus, onProgress, warn, reportError })
  } catch (e) {
    throw mapError(e)
  }
  const syncer = sync === undefined ? undefined : new LeaderSync(leader, storeId, sync, { reportError, reset: () => options.reset?.() })
  let closed = false
  let closing: Promise<void> | undefined
  return {
    get clientId() {
      return leader.clientId
    },
    storageMode: options.storageMode ?? 'in-memory',
    boot: async () => {
      try {
        return leader.snapshot({ inProcess: true, readImage: options.readImage })
      } catch (e) {
        throw mapError(e)
      }
    },
    append: async (events, commits) => {
      if (closed) throw new CairnError('LeaderClosed', `The leader of store "${storeId}" is closed.`)
      let result
      try {
        const { durable } = options
        if (durable === undefined) result = leader.append(events, commits)
        else {
          // the sync starts as soon as the transaction committed: the sessions update meanwhile
          // settled into a value, so a sync that fails before it is awaited below is not an
          // unhandled rejection; its error is rethrown there
          let synced: Promise<{ readonly ok: true } | { readonly ok: false; readonly error: unknown }> | undefined
          result = leader.append(events, commits, () => {
            // a durable() that throws fails the append as one that rejects (after the sessions were told)
            let sync: Promise<void>
            try {
              sync = durable()
            } catch (e) {
              sync = Promise.reject(e)
            }
            synced = sync.then(
              () => ({ ok: true }) as const,
              (error: unknown) => ({ ok: false, error }) as const,
            )
          })
          const outcome = await synced
          if (outcome?.ok === false) throw outcome.error
        }
      } catch (e) {
        throw mapError(e)
      }
      syncer?.pushNext()
      return result
    },
    subscribe: (listener) => leader.subscribe(listener),
    dropRefusedEvent: async (eventId) => {
      if (syncer === undefined) {
        throw new CairnError('NotRefused', `Event ${eventId} cannot be dropped: store "${storeId}" does not sync, so no server refused it.`)
      }
      syncer.dropRefused(eventId)
    },
    readLog: async () => leader.logEntries(),
    rematerialize: async () => {
      if (closed) throw new CairnError('LeaderClosed', `The leader of store "${storeId}" is closed.`)
      try {
        leader.rematerialize({ onBootStatus, onProgress })
      } catch (e) {
        throw mapError(e)
      }
    },
    close: () =>
      (closing ??= (async () => {
        closed = true
        try {
          await syncer?.close()
        } finally {
          await options.onClose?.()
        }
      })()),
  }
}
