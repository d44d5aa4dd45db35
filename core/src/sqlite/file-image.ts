// A file database's whole content in one read: SQLite's own copy (sqlite3_serialize of a
// database that is not in memory) fetches it page by page through the VFS, which for a
// 20 MB database on the Node VFS took ~75-115 ms against ~10 ms for one read of the file.
import type sqlite3InitModule from '@sqlite.org/sqlite-wasm'
import { SqliteError } from './sqlite-error.ts'

type Sqlite3 = Awaited<ReturnType<typeof sqlite3InitModule>>

/** A block of sqlite3_malloc memory: its pointer and size. */
export interface WasmCopy {
  readonly pointer: number
  readonly size: number
}

type FileFn = (...args: (number | bigint)[]) => number

/**
 * Copies the main database file of `dbPointer` into memory from sqlite3_malloc, through its
 * VFS (any VFS: Node's, OPFS). The caller has checkpointed the WAL (RESTART), so the file holds
 * every committed page. `out` is 8 bytes of scratch wasm memory. Undefined when the database
 * has no file.
 */
export function readFileImage(sqlite3: Sqlite3, dbPointer: number, out: number): WasmCopy | undefined {
  const { capi, wasm } = sqlite3
  if (capi.sqlite3_file_control(dbPointer, 'main', capi.SQLITE_FCNTL_FILE_POINTER, out) !== 0) return undefined
  const file = wasm.peekPtr(out) as number
  const methods = file === 0 ? 0 : (wasm.peekPtr(file) as number) // sqlite3_file's first member
  if (methods === 0) return undefined
  // the typings leave out structInfo, which every struct type has
  const { structInfo } = capi.sqlite3_io_methods as unknown as { structInfo: { members: Record<string, { offset: number }> } }
  const members = structInfo.members
  const method = (name: string) => wasm.functionEntry(wasm.peekPtr(methods + members[name]!.offset)) as FileFn | undefined
  const fileSize = method('xFileSize')
  const read = method('xRead')
  if (fileSize === undefined || read === undefined) return undefined
  let rc = fileSize(file, out)
  if (rc !== 0) throw new SqliteError(`Reading the database file's size failed (sqlite code ${rc})`, rc)
  const size = Number(wasm.peek(out, 'i64'))
  const pointer = wasm.exports.sqlite3_malloc(Math.max(size, 1)) as number
  if (!pointer) throw new SqliteError('Out of memory for a copy of the database', 7)
  rc = size === 0 ? 0 : read(file, pointer, size, BigInt(0))
  if (rc !== 0) {
    wasm.exports.sqlite3_free(pointer)
    throw new SqliteError(`Reading the database file failed (sqlite code ${rc})`, rc)
  }
  if (size >= 20) {
    // header bytes 18-19 say WAL mode (2): an in-memory copy would look for a -wal file and fail
    // to open; 1 is the rollback-journal mode an in-memory database runs in
    const heap = wasm.heap8u()
    heap[pointer + 18] = 1
    heap[pointer + 19] = 1
  }
  return { pointer, size }
}
