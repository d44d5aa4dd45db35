// Write batching over sqlite-wasm's `opfs-sahpool` VFS. Every call on an OPFS sync access handle
// costs a round trip to the browser: 0.4-1.4 ms per write here whatever its size, 0.1-0.3 ms per
// read or getSize (Chromium, measured with bench/src/web/opfs-calls). SQLite writes a WAL frame as
// two calls (its 24-byte header, then the page), so a one-event commit made 10-20 calls. Here
// the writes of a transaction gather in wasm memory and reach OPFS in one call, when SQLite
// writes the commit frame's page; file sizes are kept instead of asked.
//
// Nothing changes in what is durable when: a commit still returns once its frames were handed to
// OPFS, and every sync, truncate, delete or close first writes out what is gathered.
import type { loadSqlite } from '@cairn/core'

type Sqlite3 = Awaited<ReturnType<typeof loadSqlite>>
type WasmFn = (...args: (number | bigint)[]) => number

interface Struct {
  readonly pointer: number
  dispose(): void
  installMethods(methods: Record<string, (...args: never[]) => number>, applyArgcCheck?: boolean): void
}

/** Our narrow view of sqlite-wasm's low-level API (its typings leave out the `$` struct fields). */
interface LowLevel {
  readonly capi: {
    readonly SQLITE_OPEN_WAL: number
    readonly SQLITE_FCNTL_COMMIT_PHASETWO: number
    readonly SQLITE_OPEN_MAIN_DB: number
    readonly SQLITE_IOERR_WRITE: number
    readonly SQLITE_NOMEM: number
    sqlite3_vfs_find(name: string): number
    sqlite3_vfs: new (pointer?: number) => Struct & Record<`$x${string}`, number>
    sqlite3_io_methods: new (pointer?: number) => Struct & Record<`$${string}`, number>
    sqlite3_file: new (pointer: number) => Struct & { $pMethods: number }
  }
  readonly wasm: {
    functionEntry(pointer: number): WasmFn | undefined
    heap8u(): Uint8Array
    peek64(pointer: number): bigint
    poke64(pointer: number, value: bigint): void
    alloc(n: number): number
    realloc(pointer: number, n: number): number
    dealloc(pointer: number): void
  }
}

/** A file SQLite opened through a patched VFS: its gathered writes and its size. */
interface OpenFile {
  readonly wal: boolean
  /** Where the gathered bytes go in the file, and how many there are (in `scratch`). */
  start: number
  length: number
  scratch: number
  capacity: number
  /** The file's size as SQLite sees it (gathered writes included); undefined until asked once. */
  size: number | undefined
  /** The last write was the header of a commit frame: its page ends the transaction. */
  commitHeader: boolean
}

/** Gathered bytes are written out once they reach this much, even inside a transaction. */
let maxGathered = 4 * 1024 * 1024
const FRAME_HEADER = 24
const WAL_HEADER = 32

/** Counts of the calls that reached the base VFS (tests and the bench read them). */
export interface OpfsCallCounts {
  writes: number
  reads: number
  sizes: number
}

export const opfsCalls: OpfsCallCounts = { writes: 0, reads: 0, sizes: 0 }

let io: Struct | undefined
let base: Record<'xWrite' | 'xRead' | 'xFileControl' | 'xFileSize' | 'xTruncate' | 'xSync' | 'xClose', WasmFn> | undefined
const files = new Map<number, OpenFile>()
const patched = new Set<number>()
const keep: Struct[] = []

/**
 * Makes the named VFS (an `opfs-sahpool` pool's) gather each transaction's writes into one OPFS
 * write. Call it once the pool is installed, before a database opens on it; later calls for the
 * same VFS do nothing.
 */
export function batchWrites(sqlite3: Sqlite3, vfsName: string, options: { readonly maxGathered?: number } = {}): void {
  // (SQLite's unix VFS, which the tests use, takes writes under 128 KiB only)
  if (options.maxGathered !== undefined) maxGathered = options.maxGathered
  const { capi, wasm } = sqlite3 as unknown as LowLevel
  const pVfs = capi.sqlite3_vfs_find(vfsName)
  if (pVfs === 0) throw new Error(`No SQLite VFS named ${vfsName} is registered.`)
  if (patched.has(pVfs)) return
  patched.add(pVfs)
  const vfs = new capi.sqlite3_vfs(pVfs)
  const open = wasm.functionEntry(vfs.$xOpen!)!
  const remove = wasm.functionEntry(vfs.$xDelete!)!
  vfs.installMethods({
    xOpen(pVfsArg: number, zName: number, pFile: number, flags: number, pOutFlags: number) {
      const rc = open(pVfsArg, zName, pFile, flags, pOutFlags)
      if (rc !== 0) return rc
      const file = new capi.sqlite3_file(pFile)
      try {
        file.$pMethods = ourMethods(sqlite3, file.$pMethods)
      } finally {
        file.dispose()
      }
      files.set(pFile, {
        wal: (flags & capi.SQLITE_OPEN_WAL) !== 0,
        start: 0,
        length: 0,
        scratch: 0,
        capacity: 0,
        size: undefined,
        commitHeader: false,
      })
      return 0
    },
    xDelete(pVfsArg: number, zName: number, syncDir: number) {
      // a journal's deletion commits a rollback-mode transaction: the database's pages go first
      const rc = flushAll()
      return rc !== 0 ? rc : remove(pVfsArg, zName, syncDir)
    },
  })
  // kept: disposing the struct would uninstall the methods just installed
  keep.push(vfs)
}

/** Our io methods (made once, from the base VFS's, which every pool shares). */
function ourMethods(sqlite3: Sqlite3, baseMethods: number): number {
  if (io !== undefined) return io.pointer
  const { capi, wasm } = sqlite3 as unknown as LowLevel
  const original = new capi.sqlite3_io_methods(baseMethods)
  const entry = (name: string): WasmFn => wasm.functionEntry(original[`$${name}`]!)!
  base = {
    xWrite: entry('xWrite'),
    xRead: entry('xRead'),
    xFileControl: entry('xFileControl'),
    xFileSize: entry('xFileSize'),
    xTruncate: entry('xTruncate'),
    xSync: entry('xSync'),
    xClose: entry('xClose'),
  }
  const ours = new capi.sqlite3_io_methods()
  ours.$iVersion = 1
  // the rest pass straight to the base VFS: locks, file controls, sector size, characteristics
  for (const name of ['xLock', 'xUnlock', 'xCheckReservedLock', 'xSectorSize', 'xDeviceCharacteristics']) {
    ours[`$${name}`] = original[`$${name}`]!
  }
  original.dispose()
  const b = base
  ours.installMethods({
    xWrite(pFile: number, pSrc: number, n: number, offset: bigint) {
      const f = files.get(pFile)
      if (f === undefined) return call(b.xWrite, 'writes', pFile, pSrc, n, offset)
      const at = Number(offset)
      // a WAL written from its start again (after a checkpoint) follows the database's pages
      if (f.wal && at === 0) {
        const rc = flushAll()
        if (rc !== 0) return rc
      }
      if (f.length > 0 && at !== f.start + f.length) {
        const rc = flush(pFile, f)
        if (rc !== 0) return rc
      }
      if (f.length === 0) f.start = at
      if (!reserve(wasm, f, f.length + n)) return capi.SQLITE_NOMEM
      const heap = wasm.heap8u()
      heap.copyWithin(f.scratch + f.length, pSrc, pSrc + n)
      f.length += n
      if (f.size !== undefined && at + n > f.size) f.size = at + n
      if (f.wal) {
        const ends = f.commitHeader
        // a frame header's bytes 4-7: the database size after a commit, 0 for other frames
        f.commitHeader = n === FRAME_HEADER && at >= WAL_HEADER && new DataView(heap.buffer, pSrc + 4, 4).getUint32(0) !== 0
        if (ends || f.length >= maxGathered) return flush(pFile, f)
      } else if (f.length >= maxGathered) return flush(pFile, f)
      return 0
    },
    xRead(pFile: number, pDest: number, n: number, offset: bigint) {
      const f = files.get(pFile)
      if (f !== undefined && f.length > 0) {
        const rc = flush(pFile, f)
        if (rc !== 0) return rc
      }
      return call(b.xRead, 'reads', pFile, pDest, n, offset)
    },
    xFileControl(pFile: number, op: number, pArg: number) {
      // The end of every transaction: nothing may stay gathered past it. The commit frame's write
      // has written everything out already (where a failure still rolls the transaction back);
      // this only guards against a SQLite that writes its frames differently.
      if (op === capi.SQLITE_FCNTL_COMMIT_PHASETWO) {
        if (gathered() > 0) fileControlFlushes++
        const rc = flushAll()
        if (rc !== 0) return rc
      }
      return b.xFileControl(pFile, op, pArg)
    },
    xFileSize(pFile: number, pSize: number) {
      const f = files.get(pFile)
      if (f?.size !== undefined) {
        wasm.poke64(pSize, BigInt(f.size))
        return 0
      }
      const rc = call(b.xFileSize, 'sizes', pFile, pSize)
      if (rc === 0 && f !== undefined) f.size = Math.max(Number(wasm.peek64(pSize)), f.length > 0 ? f.start + f.length : 0)
      return rc
    },
    xTruncate(pFile: number, size: bigint) {
      const rc = flushAll()
      if (rc !== 0) return rc
      const f = files.get(pFile)
      if (f !== undefined) f.size = undefined
      return b.xTruncate(pFile, size)
    },
    xSync(pFile: number, flags: number) {
      const rc = flushAll()
      return rc !== 0 ? rc : b.xSync(pFile, flags)
    },
    xClose(pFile: number) {
      const f = files.get(pFile)
      let rc = 0
      if (f !== undefined) {
        rc = flush(pFile, f)
        files.delete(pFile)
        if (f.scratch !== 0) wasm.dealloc(f.scratch)
      }
      const closed = b.xClose(pFile)
      return rc !== 0 ? rc : closed
    },
  })
  io = ours
  return ours.pointer
}

function call(fn: WasmFn, counter: keyof OpfsCallCounts, ...args: (number | bigint)[]): number {
  opfsCalls[counter]++
  return fn(...args)
}

function reserve(wasm: LowLevel['wasm'], f: OpenFile, n: number): boolean {
  if (n <= f.capacity) return true
  const capacity = Math.max(n, f.capacity * 2, 64 * 1024)
  const p = f.scratch === 0 ? wasm.alloc(capacity) : wasm.realloc(f.scratch, capacity)
  if (p === 0) return false
  f.scratch = p
  f.capacity = capacity
  return true
}

/** Writes a file's gathered bytes in one call; on failure they are dropped (SQLite rolls back). */
function flush(pFile: number, f: OpenFile): number {
  if (f.length === 0) return 0
  const n = f.length
  f.length = 0
  f.commitHeader = false
  const rc = call(base!.xWrite, 'writes', pFile, f.scratch, n, BigInt(f.start))
  // the size is asked again after a failed write: part of it may have landed
  if (rc !== 0) f.size = undefined
  return rc
}

function gathered(): number {
  let n = 0
  for (const f of files.values()) n += f.length
  return n
}

/** Transactions whose writes were still gathered at their end (the commit frame went unnoticed). */
export let fileControlFlushes = 0

function flushAll(): number {
  let first = 0
  for (const [pFile, f] of files) {
    const rc = flush(pFile, f)
    if (first === 0) first = rc
  }
  return first
}
