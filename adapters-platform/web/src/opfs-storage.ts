// The leader's file in OPFS: one SQLite file per store, in its own sqlite-wasm `opfs-sahpool`
// pool (the pool holds a sync access handle on every file of its directory, so two stores led by
// two tabs must not share one), checked for a format this version can read.
import { CairnError, loadSqlite, SqliteDb, SqliteError } from '@cairn/core'
import { batchWrites } from './batched-writes.ts'

/** `PRAGMA application_id` of a Cairn file: "CAIR". (Its format number is core's `user_version`.) */
const APPLICATION_ID = 0x43414952
const FILENAME = '/cairn.db'

type SAHPoolUtil = Awaited<ReturnType<Awaited<ReturnType<typeof loadSqlite>>['installOpfsSAHPoolVfs']>>

/** An OPFS directory name for a store id: letters, digits, `-` and `_` kept, the rest escaped. */
export function poolDirectory(storeId: string): string {
  return `.cairn-${storeId.replace(/[^A-Za-z0-9_-]/g, (c) => `_${c.codePointAt(0)!.toString(16)}_`)}`
}

/**
 * Why OPFS with sync access handles cannot be used in this context, or undefined when it can.
 * (Private windows of some browsers, old Safari, or a page that removed the API.)
 */
export async function opfsUnavailable(): Promise<string | undefined> {
  if (typeof navigator === 'undefined' || typeof navigator.storage?.getDirectory !== 'function') {
    return 'navigator.storage.getDirectory is not available'
  }
  // createSyncAccessHandle exists only in workers (TypeScript's DOM library leaves it out)
  const fileHandle =
    typeof FileSystemFileHandle === 'undefined' ? undefined : (FileSystemFileHandle.prototype as { createSyncAccessHandle?: unknown })
  if (typeof fileHandle?.createSyncAccessHandle !== 'function') {
    return 'FileSystemFileHandle.createSyncAccessHandle is not available (it exists only in workers)'
  }
  try {
    await navigator.storage.getDirectory()
  } catch (e) {
    return `navigator.storage.getDirectory() failed: ${(e as Error)?.message ?? e}`
  }
  return undefined
}

const pools = new Map<string, SAHPoolUtil>()

/**
 * Opens (creating it on first use) the store's file. Another tab's worker may still hold the
 * pool's handles for a moment after its tab closed: retried for up to `waitMs`.
 */
export async function openStoreFile(storeId: string, waitMs = 5000): Promise<{ db: SqliteDb; pool: SAHPoolUtil; filename: string }> {
  const pool = await acquirePool(storeId, waitMs)
  let db: SqliteDb
  try {
    db = await SqliteDb.open({ filename: FILENAME, vfs: pool.vfsName })
  } catch (e) {
    pool.pauseVfs()
    throw new CairnError('StorageOpenFailed', `Could not open the OPFS file of store "${storeId}": ${(e as Error)?.message ?? e}.`, {
      cause: e,
    })
  }
  try {
    // before the first read: a WAL file opens only with exclusive locking (no shared memory)
    db.exec('PRAGMA locking_mode = EXCLUSIVE')
    checkFormat(db, storeId)
    // Only this worker opens the file (it holds the store's lock): EXCLUSIVE locking, which also
    // lets WAL work without shared memory. A commit is one append to the WAL; with synchronous
    // NORMAL it survives a closed or crashed tab or browser (the write reached the OS), and the
    // WAL is flushed to disk at checkpoints. cache_spill OFF: a transaction larger than the page
    // cache keeps its pages in memory rather than writing them to the WAL mid-way and reading them
    // back through OPFS (one commit of 100,000 events: ~41,000 events/s against ~38,000-39,800);
    // a rebuild turns spilling back on for its whole-state transaction (see Leader).
    db.exec('PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_spill = OFF')
  } catch (e) {
    db.close()
    pool.pauseVfs()
    throw e
  }
  return { db, pool, filename: `${poolDirectory(storeId)}${FILENAME}` }
}

/** Releases the pool's access handles (the database must be closed), so another tab can lead. */
export function releasePool(pool: SAHPoolUtil): void {
  if (!pool.isPaused()) pool.pauseVfs()
}

async function acquirePool(storeId: string, waitMs: number): Promise<SAHPoolUtil> {
  const sqlite3 = await loadSqlite()
  const known = pools.get(storeId)
  const deadline = Date.now() + waitMs
  for (let attempt = 0; ; attempt++) {
    try {
      if (known !== undefined) return known.isPaused() ? await known.unpauseVfs() : known
      const pool = await sqlite3.installOpfsSAHPoolVfs({
        name: `cairn-sahpool${poolDirectory(storeId)}`,
        directory: poolDirectory(storeId),
        initialCapacity: 4,
        preserveOnInitFailure: true,
        // a failed attempt is cached by sqlite-wasm unless told to try again
        ...(attempt > 0 ? { forceReinitIfPreviouslyFailed: true } : {}),
      } as Parameters<typeof sqlite3.installOpfsSAHPoolVfs>[0])
      // before any database opens on it: each transaction then reaches OPFS in one write
      batchWrites(sqlite3, pool.vfsName)
      pools.set(storeId, pool)
      return pool
    } catch (e) {
      if (Date.now() > deadline) {
        throw new CairnError(
          'StorageBusy',
          `The OPFS files of store "${storeId}" stayed locked by another context for ${waitMs} ms (${(e as Error)?.message ?? e}). Close other windows of this app that are stuck, or reload.`,
          { cause: e },
        )
      }
      await new Promise((r) => setTimeout(r, Math.min(20 * 2 ** attempt, 250)))
    }
  }
}

function checkFormat(db: SqliteDb, storeId: string): void {
  let appId: number
  try {
    appId = Number(db.select('PRAGMA application_id')[0]?.application_id ?? 0)
  } catch (e) {
    if (e instanceof SqliteError && (e.resultCode & 0xff) === 26) {
      throw new CairnError(
        'IncompatibleStorage',
        `The OPFS file of store "${storeId}" is not an SQLite database Cairn can read (${e.message}). Call resetPersistence({ storeId: '${storeId}' }) to start over (local data is lost).`,
        { cause: e },
      )
    }
    throw e
  }
  const fresh = appId === 0 && db.select(`SELECT 1 FROM sqlite_master LIMIT 1`).length === 0
  if (fresh) {
    db.exec(`PRAGMA application_id = ${APPLICATION_ID}`)
    return
  }
  if (appId !== APPLICATION_ID) {
    throw new CairnError(
      'IncompatibleStorage',
      `The OPFS file of store "${storeId}" was not written by Cairn (application_id ${appId}). Call resetPersistence({ storeId: '${storeId}' }) to start over (local data is lost).`,
    )
  }
}
