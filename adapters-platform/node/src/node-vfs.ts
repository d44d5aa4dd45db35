// A SQLite VFS for sqlite-wasm on Node's synchronous file API, so the leader keeps the same
// SQLite build (and code path) as the sessions and the in-memory adapter.
import {
  close,
  closeSync,
  constants,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  open,
  openSync,
  readSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import type { loadSqlite } from '@cairn/core'

export type Sqlite3 = Awaited<ReturnType<typeof loadSqlite>>

type Method = (...args: never[]) => number
type Constant =
  | 'SQLITE_CANTOPEN'
  | 'SQLITE_FCNTL_COMMIT_PHASETWO'
  | 'SQLITE_FULL'
  | 'SQLITE_IOCAP_POWERSAFE_OVERWRITE'
  | 'SQLITE_IOERR_CLOSE'
  | 'SQLITE_IOERR_DELETE'
  | 'SQLITE_IOERR_DELETE_NOENT'
  | 'SQLITE_IOERR_FSTAT'
  | 'SQLITE_IOERR_FSYNC'
  | 'SQLITE_IOERR_READ'
  | 'SQLITE_IOERR_SHORT_READ'
  | 'SQLITE_IOERR_TRUNCATE'
  | 'SQLITE_IOERR_WRITE'
  | 'SQLITE_NOTFOUND'
  | 'SQLITE_OPEN_CREATE'
  | 'SQLITE_OPEN_DELETEONCLOSE'
  | 'SQLITE_OPEN_EXCLUSIVE'
  | 'SQLITE_OPEN_READONLY'
  | 'SQLITE_OPEN_WAL'
interface Struct {
  readonly pointer: number
  dispose(): void
}
/**
 * Our narrow view of the sqlite-wasm VFS API: its typings declare results as specific codes and
 * leave out members every struct has (`structInfo`, `$`-prefixed raw fields).
 */
interface VfsApi {
  readonly capi: Record<Constant, number> & {
    sqlite3_io_methods: new () => Struct & { $iVersion: number }
    sqlite3_vfs: new (pointer?: number) => Struct & Record<`$${string}`, number>
    sqlite3_file: (new (pointer: number) => Struct & { $pMethods: number }) & { structInfo: { sizeof: number } }
    sqlite3_vfs_find(name: null): number
  }
  readonly wasm: {
    heap8u(): Uint8Array<ArrayBuffer>
    poke32(pointer: number, value: number): void
    poke64(pointer: number, value: bigint): void
    cstrToJs(pointer: number): string
    allocCString(value: string): number
  }
  readonly vfs: {
    installVfs(options: {
      io?: { struct: Struct; methods: Record<string, Method> }
      vfs?: { struct: Struct; methods: Record<string, Method> }
    }): unknown
  }
}

/** The VFS name SQLite knows this file system by. */
export const NODE_VFS = 'cairn-node'

/** The last I/O failure of a file: what the adapter names in its error. */
export interface FileFailure {
  readonly path: string
  readonly operation: string
  readonly error: NodeJS.ErrnoException
}

interface OpenFile {
  readonly fd: number
  readonly path: string
  readonly deleteOnClose: boolean
  /** A `-wal` file: its contiguous writes are combined (see `WalWrites`). */
  readonly wal: WalWrites | undefined
}

/**
 * The WAL writes not yet handed to the kernel. SQLite writes each frame as two writes (its
 * 24-byte header, then the page), one after the other; a commit of 20 frames made 40 `writeSync`
 * calls, a sixth of a 100-event append's CPU here. They are copied here instead and written in
 * one call when the commit frame's page arrives, so the commit's own `xWrite` still reports
 * the failure of any of its frames (SQLite then rolls the commit back, as before), and before
 * anything that must see the file as SQLite wrote it: a read, a size, a truncate, a sync, a close,
 * a write somewhere else in the file. Nothing is held across a commit: once COMMIT returned its
 * frames are in the kernel, for the group commit's fdatasync.
 */
interface WalWrites {
  buffer: Buffer
  /** Where the held bytes go in the file, and how many there are. */
  start: number
  length: number
  /** The last write held was a commit frame's header: its page is the transaction's last write. */
  commitHeader: boolean
  /** A new WAL's growth to WAL_PREGROW_BYTES, until it runs: before its first write, or once the boot is done. */
  pregrow: NodeJS.Immediate | undefined
}

/** Transactions whose WAL writes were still held at their end (the commit frame went unnoticed): tests expect none. */
export let heldAtCommitEnd = 0

/** Held WAL bytes beyond this are written at once (a transaction spilling pages, a checkpoint's frames). */
const WAL_HOLD_BYTES = 1024 * 1024
/** A WAL frame's header: the page number, then (nonzero only in a commit frame) the database size in pages. */
const WAL_FRAME_HEADER = 24

/**
 * The file system SQLite sees through the `cairn-node` VFS. Locks are not taken here: the
 * database runs in `locking_mode=EXCLUSIVE` inside one process, and the adapter's lock file
 * keeps other processes out (see store-lock.ts). Without shared-memory methods, SQLite keeps the
 * WAL index in the process's heap, which EXCLUSIVE mode allows.
 */
export interface NodeVfs {
  /** The descriptor of an open file, by path (the `-wal` file, for the group commit's fdatasync). */
  fdOf(path: string): number | undefined
  /** The last I/O failure on a file under `path` (a database path), then forgotten. */
  takeFailure(path: string): FileFailure | undefined
}

let installed: NodeVfs | undefined

/** Registers the VFS with the sqlite-wasm module once; later calls return the same one. */
export function installNodeVfs(sqlite3: Sqlite3): NodeVfs {
  if (installed !== undefined) return installed
  const { capi, wasm, vfs: vfsApi } = sqlite3 as unknown as VfsApi
  const files = new Map<number, OpenFile>()
  const failures = new Map<string, FileFailure>()
  // heap8u() makes a new view per call; a view only goes stale when the memory grows
  let heapView = new Uint8Array(0)
  const heap = () => (heapView.length === 0 ? (heapView = wasm.heap8u()) : heapView)
  const fail = (path: string, operation: string, error: unknown, rc: number): number => {
    failures.set(path, { path, operation, error: error as NodeJS.ErrnoException })
    return rc
  }
  /** Writes the WAL bytes `f` holds; 0, or SQLite's code for the failure (recorded for the adapter). */
  const flush = (f: OpenFile): number => {
    const w = f.wal
    if (w === undefined || w.length === 0) return 0
    const { start, length } = w
    w.length = 0
    w.commitHeader = false
    try {
      let put = 0
      while (put < length) put += writeSync(f.fd, w.buffer, put, length - put, start + put)
      return 0
    } catch (e) {
      return fail(f.path, 'write', e, diskFull(e) ? capi.SQLITE_FULL : capi.SQLITE_IOERR_WRITE)
    }
  }
  /** Holds a write to the WAL; writes what is held when it ends a commit or the hold is full. */
  const holdWalWrite = (f: OpenFile, w: WalWrites, pSrc: number, n: number, at: number): number => {
    if (w.pregrow !== undefined) growNow(f, w)
    if (w.length > 0 && at !== w.start + w.length) {
      const rc = flush(f)
      if (rc !== 0) return rc
    }
    if (w.length === 0) w.start = at
    if (w.length + n > w.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(w.buffer.length * 2, w.length + n))
      w.buffer.copy(grown, 0, 0, w.length)
      w.buffer = grown
    }
    const h = heap()
    w.buffer.set(h.subarray(pSrc, pSrc + n), w.length)
    w.length += n
    const endsCommit = w.commitHeader
    // bytes 4-7 of a frame header: the database size after a commit frame, zero in any other
    w.commitHeader = n === WAL_FRAME_HEADER && (h[pSrc + 4]! | h[pSrc + 5]! | h[pSrc + 6]! | h[pSrc + 7]!) !== 0
    return endsCommit || w.length >= WAL_HOLD_BYTES ? flush(f) : 0
  }
  /** Grows a new WAL now (see `pregrow`), if it was not yet. */
  const growNow = (f: OpenFile, w: WalWrites): void => {
    if (w.pregrow === undefined) return
    clearImmediate(w.pregrow)
    w.pregrow = undefined
    pregrow(f.fd, f.path)
  }
  const io = new capi.sqlite3_io_methods()
  io.$iVersion = 1
  vfsApi.installVfs({
    io: {
      struct: io,
      methods: {
        xClose(pFile: number) {
          const f = files.get(pFile)
          if (f === undefined) return 0
          files.delete(pFile)
          if (f.wal?.pregrow !== undefined) clearImmediate(f.wal.pregrow)
          const rc = flush(f)
          try {
            closeSync(f.fd)
            if (f.deleteOnClose) unlinkSync(f.path)
            return rc
          } catch (e) {
            return fail(f.path, 'close', e, capi.SQLITE_IOERR_CLOSE)
          }
        },
        xRead(pFile: number, pDest: number, n: number, offset: bigint) {
          const f = files.get(pFile)!
          const dest = pDest
          const rc = flush(f)
          if (rc !== 0) return rc
          try {
            const at = Number(offset)
            let got = 0
            while (got < n) {
              const r = readSync(f.fd, heap(), dest + got, n - got, at + got)
              if (r === 0) break
              got += r
            }
            if (got < n) {
              // SQLite relies on the rest being zeros
              heap().fill(0, dest + got, dest + n)
              return capi.SQLITE_IOERR_SHORT_READ
            }
            return 0
          } catch (e) {
            return fail(f.path, 'read', e, capi.SQLITE_IOERR_READ)
          }
        },
        xWrite(pFile: number, pSrc: number, n: number, offset: bigint) {
          const f = files.get(pFile)!
          if (f.wal !== undefined) return holdWalWrite(f, f.wal, pSrc, n, Number(offset))
          try {
            const at = Number(offset)
            let put = 0
            while (put < n) put += writeSync(f.fd, heap(), pSrc + put, n - put, at + put)
            return 0
          } catch (e) {
            return fail(f.path, 'write', e, diskFull(e) ? capi.SQLITE_FULL : capi.SQLITE_IOERR_WRITE)
          }
        },
        xTruncate(pFile: number, size: bigint) {
          const f = files.get(pFile)!
          const rc = flush(f)
          if (rc !== 0) return rc
          try {
            ftruncateSync(f.fd, Number(size))
            return 0
          } catch (e) {
            return fail(f.path, 'truncate', e, capi.SQLITE_IOERR_TRUNCATE)
          }
        },
        xSync(pFile: number) {
          // SQLite asks for it before a checkpoint copies the WAL into the database and after;
          // commits themselves are synced by the adapter's group commit (durability.ts)
          const f = files.get(pFile)!
          const rc = flush(f)
          if (rc !== 0) return rc
          try {
            fdatasyncSync(f.fd)
            return 0
          } catch (e) {
            return fail(f.path, 'fdatasync', e, capi.SQLITE_IOERR_FSYNC)
          }
        },
        xFileSize(pFile: number, pSize: number) {
          const f = files.get(pFile)!
          const rc = flush(f)
          if (rc !== 0) return rc
          try {
            wasm.poke64(pSize, BigInt(fstatSync(f.fd).size))
            return 0
          } catch (e) {
            return fail(f.path, 'stat', e, capi.SQLITE_IOERR_FSTAT)
          }
        },
        xLock: () => 0,
        xUnlock: () => 0,
        xCheckReservedLock(_pFile: number, pOut: number) {
          wasm.poke32(pOut, 0)
          return 0
        },
        xFileControl(_pFile: number, op: number) {
          // the end of every transaction: nothing may stay held past it. The commit frame's write
          // has written everything out already (where a failure still rolls the commit back);
          // this guards against a SQLite that writes its frames otherwise than header + page
          if (op === capi.SQLITE_FCNTL_COMMIT_PHASETWO) {
            for (const f of files.values()) {
              if (f.wal !== undefined && f.wal.length > 0) heldAtCommitEnd++
              const rc = flush(f)
              if (rc !== 0) return rc
            }
          }
          return capi.SQLITE_NOTFOUND
        },
        xSectorSize: () => 4096,
        xDeviceCharacteristics: () => capi.SQLITE_IOCAP_POWERSAFE_OVERWRITE,
      },
    },
  })

  const vfs = new capi.sqlite3_vfs()
  const fallback = new capi.sqlite3_vfs(capi.sqlite3_vfs_find(null))
  vfs.$iVersion = 2
  vfs.$szOsFile = capi.sqlite3_file.structInfo.sizeof
  vfs.$mxPathname = 1024
  vfs.$zName = wasm.allocCString(NODE_VFS)
  // randomness and time as the build's default VFS does them
  for (const name of ['$xRandomness', '$xCurrentTime', '$xCurrentTimeInt64'] as const) vfs[name] = fallback[name]!
  fallback.dispose()
  let temporary = 0
  vfsApi.installVfs({
    vfs: {
      struct: vfs,
      methods: {
        xOpen(_pVfs: number, zName: number, pFile: number, flags: number, pOutFlags: number) {
          // a null name is a temporary file SQLite wants (temp_store=MEMORY avoids most)
          const named = zName !== 0
          const path = named ? wasm.cstrToJs(zName) : join(tmpdir(), `cairn-${process.pid}-${++temporary}.tmp`)
          try {
            let mode = flags & capi.SQLITE_OPEN_READONLY ? constants.O_RDONLY : constants.O_RDWR
            if (flags & capi.SQLITE_OPEN_CREATE) mode |= constants.O_CREAT
            if (flags & capi.SQLITE_OPEN_EXCLUSIVE) mode |= constants.O_EXCL
            const fd = openSync(path, mode, 0o644)
            const wal: WalWrites | undefined =
              (flags & capi.SQLITE_OPEN_WAL) !== 0
                ? { buffer: Buffer.allocUnsafe(256 * 1024), start: 0, length: 0, commitHeader: false, pregrow: undefined }
                : undefined
            const f: OpenFile = { fd, path, deleteOnClose: !named || (flags & capi.SQLITE_OPEN_DELETEONCLOSE) !== 0, wal }
            files.set(pFile, f)
            // SQLite opens the WAL while the store boots, and a boot writes nothing: the 4 MiB of
            // zeros (3-12 ms here) wait for the first write, or for the boot to be done
            if (wal !== undefined) wal.pregrow = setImmediate(() => growNow(f, wal)).unref()
            const file = new capi.sqlite3_file(pFile)
            file.$pMethods = io.pointer
            file.dispose()
            if (pOutFlags) wasm.poke32(pOutFlags, flags)
            return 0
          } catch (e) {
            return fail(path, 'open', e, capi.SQLITE_CANTOPEN)
          }
        },
        xDelete(_pVfs: number, zName: number, syncDir: number) {
          const path = wasm.cstrToJs(zName)
          try {
            unlinkSync(path)
            if (syncDir) syncDirectory(dirname(path))
            return 0
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'ENOENT') return capi.SQLITE_IOERR_DELETE_NOENT
            return fail(path, 'delete', e, capi.SQLITE_IOERR_DELETE)
          }
        },
        xAccess(_pVfs: number, zName: number, _flags: number, pOut: number) {
          // as SQLite's unix VFS: an empty file counts as absent (a WAL never written)
          const st = statSync(wasm.cstrToJs(zName), { throwIfNoEntry: false })
          wasm.poke32(pOut, st !== undefined && (!st.isFile() || st.size > 0) ? 1 : 0)
          return 0
        },
        xFullPathname(_pVfs: number, zName: number, nOut: number, pOut: number) {
          const full = new TextEncoder().encode(resolve(wasm.cstrToJs(zName)))
          if (full.length + 1 > nOut) return capi.SQLITE_CANTOPEN
          heap().set(full, pOut)
          heap()[pOut + full.length] = 0
          return 0
        },
        // one process holds the file (EXCLUSIVE): nothing to wait for
        xSleep: () => 0,
        xGetLastError: () => 0,
      },
    },
  })

  installed = {
    fdOf(path) {
      for (const f of files.values()) if (f.path === path) return f.fd
      return undefined
    },
    takeFailure(path) {
      for (const [p, failure] of failures) {
        if (p === path || p === `${path}-wal` || p === `${path}-journal`) {
          failures.delete(p)
          return failure
        }
      }
      return undefined
    },
  }
  return installed
}

/**
 * How far a WAL file is grown when it is opened: a bit more than the frames written between two
 * checkpoints (the adapter sets `wal_autocheckpoint` to match). An fdatasync of a file that grew
 * must also commit the file system's metadata, which took 4-10x longer here than one of blocks the
 * file already had (9-13 ms against 1-3 ms per write + sync on this machine's disk); SQLite
 * rewinds the WAL after each checkpoint, so once grown, commits only overwrite.
 */
export const WAL_PREGROW_BYTES = 4 * 1024 * 1024 + 256 * 1024

/** Frames between automatic checkpoints: they fit in the pregrown WAL (pages of up to 8 KiB). */
export const WAL_CHECKPOINT_PAGES = Math.floor(WAL_PREGROW_BYTES / (8192 + 24)) - 16

/**
 * Writes zeros up to WAL_PREGROW_BYTES (SQLite reads a WAL only as far as its frames are valid);
 * before SQLite's first write to the file, so they never land on a frame.
 * Their fdatasync runs in libuv's pool, on a descriptor of its own: waiting for it took 50-120 ms
 * of every boot here (the WAL is deleted at each close). Nothing relies on it: it only gets the
 * new blocks to the disk before the first append's own fdatasync, which covers them anyway.
 */
function pregrow(fd: number, path: string): void {
  const size = fstatSync(fd).size
  if (size >= WAL_PREGROW_BYTES) return
  const zeros = Buffer.alloc(1024 * 1024)
  try {
    for (let at = size; at < WAL_PREGROW_BYTES;) at += writeSync(fd, zeros, 0, Math.min(zeros.length, WAL_PREGROW_BYTES - at), at)
  } catch {
    // a nearly full disk (or a failing one): go on without the room; the write that needs it
    // finds the failure itself and reports it
    try {
      ftruncateSync(fd, size)
    } catch {
      // the same failure again: that write reports it
    }
    return
  }
  open(path, 'r', (openError, own) => {
    // a failure here is found again, and reported, by the first append's fdatasync
    if (openError !== null) return
    fdatasync(own, () => close(own, () => undefined))
  })
}

function diskFull(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code
  return code === 'ENOSPC' || code === 'EFBIG' || code === 'EDQUOT'
}

/** fsync of a directory: makes a file's creation or removal in it durable. */
export function syncDirectory(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
