import { closeSync, mkdirSync, openSync, readSync, rmSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { CairnError, hostLeader, loadSqlite, readSparseImage, SqliteDb, SqliteError, type Adapter } from '@cairn/core'
import { GroupCommit } from './durability.ts'
import { installNodeVfs, NODE_VFS, syncDirectory, WAL_CHECKPOINT_PAGES, type NodeVfs } from './node-vfs.ts'
import { acquireStoreLock } from './store-lock.ts'

export interface NodeAdapterOptions {
  /** Where the stores live: one `<storeId>.sqlite` file each (plus its `-wal` and `.lock` while open). */
  readonly directory: string
  /** Fixes the client id a new store gets (tests); by default it is random. Kept in the file after. */
  readonly clientId?: string
}

/**
 * Keeps each store's leader (eventlog, state, sync metadata) in one SQLite file under
 * `directory`, written in one transaction per append; `handle.persisted` resolves once the
 * append is on disk (WAL + fdatasync, shared by the appends made meanwhile). A store boots from
 * the file without replaying its log. One process writes a store at a time: another gets a
 * `StoreAlreadyOpen` error naming the holder.
 *
 * @example
 * import { makeNodeAdapter } from '@cairn/adapter-node'
 * const store = await createStorePromise({ schema, storeId: 'todos', adapter: makeNodeAdapter({ directory: './data' }) })
 */
export function makeNodeAdapter(options: NodeAdapterOptions): Adapter {
  const directory = resolve(options.directory)
  return {
    name: 'node',
    async openLeader(open) {
      const vfs = installNodeVfs(await loadSqlite())
      ensureDirectory(directory)
      const file = join(directory, `${fileStem(open.storeId)}.sqlite`)
      const release = acquireStoreLock(`${file}.lock`, file)
      let db: SqliteDb | undefined
      try {
        const created = checkFile(file)
        db = await openDatabase(file, vfs)
        if (created) syncDirectory(directory)
        const leaderDb = db
        let wipe = false
        const group = new GroupCommit(
          () => vfs.fdOf(`${file}-wal`),
          (error) => ioError(file, 'fdatasync', error, 'Appends are refused until the store is opened again.'),
        )
        return hostLeader(leaderDb, {
          ...open,
          clientId: options.clientId,
          storageMode: 'file',
          // the session's copy: the state's pages only, the log's checked but not loaded
          readImage: readSparseImage,
          durable: () => group.commit(),
          mapError: (e) => describeError(e, file, vfs),
          reset: () => {
            // the file goes once the store has shut down (the 'reset' policy shuts it down)
            wipe = true
          },
          onClose: async () => {
            try {
              await group.flush()
              leaderDb.close()
              if (wipe) for (const suffix of ['', '-wal', '-journal']) rmSync(`${file}${suffix}`, { force: true })
            } finally {
              release()
            }
          },
        })
      } catch (e) {
        db?.close()
        release()
        throw describeError(e, file, vfs)
      }
    },
  }
}

/** The file name for a store id: the id itself when it is a plain name, else its hex code. */
function fileStem(storeId: string): string {
  if (/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,100}$/.test(storeId)) return storeId
  return `~${Buffer.from(storeId, 'utf8').toString('hex').slice(0, 200)}`
}

function ensureDirectory(directory: string): void {
  try {
    mkdirSync(directory, { recursive: true })
  } catch (e) {
    throw ioError(directory, 'create the directory', e as NodeJS.ErrnoException, 'Choose a directory this process can write.')
  }
}

// cache_spill OFF: a transaction larger than the page cache keeps its pages in memory instead of
// writing them to the WAL mid-way and reading them back, each through this VFS (one commit of
// 100,000 events: 70,000 events/s with spilling, 113,000 without; no higher peak RSS). A rebuild,
// whose transaction is the whole state, turns spilling back on (see Leader).
const PRAGMAS = `
PRAGMA locking_mode = EXCLUSIVE;
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA temp_store = MEMORY;
PRAGMA cache_spill = OFF;
PRAGMA wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES};
`

async function openDatabase(file: string, vfs: NodeVfs): Promise<SqliteDb> {
  const db = await SqliteDb.open({ filename: file, vfs: NODE_VFS })
  try {
    // EXCLUSIVE first: without shared-memory methods, WAL needs the index in the heap
    db.exec(PRAGMAS)
    const mode = db.select('PRAGMA journal_mode')[0]?.journal_mode
    if (mode !== 'wal')
      throw new CairnError('StorageUnavailable', `The store file ${file} could not switch to WAL mode (it is in ${String(mode)} mode).`)
    return db
  } catch (e) {
    db.close()
    throw describeError(e, file, vfs)
  }
}

const SQLITE_MAGIC = 'SQLite format 3\0'

/**
 * Checks an existing file before SQLite opens it: not a SQLite file, or shorter than its header
 * says while no WAL could explain it (a truncated copy), is refused with the file's name.
 * Returns true when the file does not exist yet.
 */
function checkFile(file: string): boolean {
  const size = statSync(file, { throwIfNoEntry: false })?.size
  if (size === undefined) return true
  if (size === 0) return false
  const header = Buffer.alloc(100)
  const fd = openSync(file, 'r')
  let n: number
  try {
    n = readSync(fd, header, 0, 100, 0)
  } finally {
    closeSync(fd)
  }
  if (n < 100 || header.toString('latin1', 0, 16) !== SQLITE_MAGIC)
    throw corruptError(file, 'it is not a SQLite database (its header is wrong)')
  const rawPageSize = header.readUInt16BE(16)
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize
  const pages = header.readUInt32BE(28)
  const countValid = header.readUInt32BE(24) === header.readUInt32BE(92)
  const wal = statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0
  if (wal === 0 && (size % pageSize !== 0 || (countValid && size < pages * pageSize))) {
    throw corruptError(file, `it is ${size} bytes but its header says ${pages} pages of ${pageSize} bytes (truncated?)`)
  }
  return false
}

function corruptError(file: string, why: string, cause?: unknown): CairnError {
  return new CairnError(
    'StoreCorrupt',
    `The store file ${file} is damaged: ${why}. Nothing was changed in it. Restore it from a backup, or move it away to start this store empty (synced events come back from the sync server).`,
    { cause },
  )
}

function ioError(path: string, operation: string, error: NodeJS.ErrnoException, what: string): CairnError {
  const code = error.code ?? ''
  const hint =
    code === 'ENOSPC' || code === 'EFBIG' || code === 'EDQUOT'
      ? 'The disk is full: free space and open the store again.'
      : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? 'This process may not write there: give it write permission or choose another directory.'
        : ''
  return new CairnError(
    code === 'ENOSPC' || code === 'EFBIG' || code === 'EDQUOT' ? 'DiskFull' : 'StorageUnavailable',
    `Cannot ${operation} ${path} (${code || error.message}). ${hint} ${what}`.replace(/ +/g, ' ').trim(),
    { cause: error },
  )
}

/** A SQLite or file-system failure as a CairnError naming the file and what to do. */
function describeError(e: unknown, file: string, vfs: NodeVfs): unknown {
  // SqliteError is a CairnError too: only Cairn's own other errors pass through as they are
  if (e instanceof CairnError && !(e instanceof SqliteError)) return e
  const failure = vfs.takeFailure(file)
  if (failure !== undefined) {
    return ioError(failure.path, failure.operation, failure.error, 'Nothing of the failed write was confirmed.')
  }
  if (e instanceof SqliteError) {
    const primary = e.resultCode & 0xff
    if (primary === 11 || primary === 26) return corruptError(file, e.message, e) // CORRUPT, NOTADB
    if (primary === 13)
      return ioError(file, 'write', Object.assign(new Error(e.message), { code: 'ENOSPC' }), 'Nothing of the failed write was confirmed.')
    if (primary === 10 || primary === 14) {
      return new CairnError('StorageUnavailable', `Cannot use the store file ${file}: ${e.message}.`, { cause: e })
    }
  }
  return e
}
