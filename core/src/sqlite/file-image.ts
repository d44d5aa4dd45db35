// A file database's content in memory, read through its VFS in as few calls as possible. SQLite's
// own copy (sqlite3_serialize of a database that is not in memory) fetches it page by page,
// which for a 20 MB database on the Node VFS took ~75-115 ms against ~10 ms for one read.
import type sqlite3InitModule from '@sqlite.org/sqlite-wasm'
import { SqliteError } from './sqlite-error.ts'

type Sqlite3 = Awaited<ReturnType<typeof sqlite3InitModule>>

/** A block of sqlite3_malloc memory: its pointer, the database's size in it, and the block's size. */
export interface WasmCopy {
  readonly pointer: number
  readonly size: number
  /** The block's size when larger than `size` (room to grow without a copy). */
  readonly capacity?: number
}

type FileFn = (...args: (number | bigint)[]) => number

/** The main database file of a connection, as its VFS opened it. */
interface MainFile {
  readonly file: number
  readonly size: number
  /** Reads `n` bytes at `offset` to wasm memory at `to`; returns SQLite's result code. */
  read(to: number, n: number, offset: number): number
}

/** The connection's main file through its VFS (any: Node's, OPFS); undefined when it has none. */
function mainFile(sqlite3: Sqlite3, dbPointer: number, out: number): MainFile | undefined {
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
  const rc = fileSize(file, out)
  if (rc !== 0) throw new SqliteError(`Reading the database file's size failed (sqlite code ${rc})`, rc)
  return { file, size: Number(wasm.peek(out, 'i64')), read: (to, n, offset) => read(file, to, n, BigInt(offset)) }
}

function allocate(sqlite3: Sqlite3, size: number): number {
  const pointer = sqlite3.wasm.exports.sqlite3_malloc(Math.max(size, 1)) as number
  if (!pointer) throw new SqliteError('Out of memory for a copy of the database', 7)
  return pointer
}

/** Header bytes 18-19 say WAL mode (2): an in-memory copy would look for a -wal file; 1 is rollback. */
function markRollbackJournal(sqlite3: Sqlite3, pointer: number): void {
  const heap = sqlite3.wasm.heap8u()
  heap[pointer + 18] = 1
  heap[pointer + 19] = 1
}

/**
 * Copies the main database file of `dbPointer` into memory from sqlite3_malloc, through its
 * VFS. The caller has checkpointed the WAL (RESTART), so the file holds every committed page.
 * `out` is 8 bytes of scratch wasm memory. Undefined when the database has no file.
 */
export function readFileImage(sqlite3: Sqlite3, dbPointer: number, out: number): WasmCopy | undefined {
  const main = mainFile(sqlite3, dbPointer, out)
  if (main === undefined) return undefined
  const { size } = main
  const pointer = allocate(sqlite3, size)
  const rc = size === 0 ? 0 : main.read(pointer, size, 0)
  if (rc !== 0) {
    sqlite3.wasm.exports.sqlite3_free(pointer)
    throw new SqliteError(`Reading the database file failed (sqlite code ${rc})`, rc)
  }
  if (size >= 20) markRollbackJournal(sqlite3, pointer)
  return { pointer, size }
}

/** A B-tree of the database (a table or an index) by its root page. */
export interface TreeRoot {
  readonly root: number
  /** Copied into the image; otherwise only its pages' structure is checked. */
  readonly keep: boolean
  /** For the error message. */
  readonly name: string
}

const SQLITE_CORRUPT = 11
const INDEX_INTERIOR = 2
const TABLE_INTERIOR = 5
const INDEX_LEAF = 10
const TABLE_LEAF = 13

/** `readSparseImage`'s type, for `SqliteDb.copyWithout`. */
export type SparseImageReader = typeof readSparseImage

/**
 * An image of the main database file of `dbPointer` holding only the pages of the B-trees in
 * `roots` marked `keep` (plus the freelist's trunk pages). The other trees' pages stay zero and
 * are never written, so this memory never takes physical pages: a store's copy for its session
 * costs its state, not its eventlog. Those trees must then be removed from the copy's schema
 * before anything reads them (`SqliteDb.copyWithout`).
 *
 * Every B-tree page of every tree is read and its structure checked (page type, cell
 * pointers, child page numbers, each page in one tree only), so a damaged file fails here with
 * SQLITE_CORRUPT, as SQLite's own copy would. `roots` must name every tree of the database
 * (`sqlite_schema` rows with a root page); page 1's tree (`sqlite_schema`) is always kept.
 * Undefined when the database has no file or uses auto-vacuum (its pointer-map pages are not
 * copied): copy the whole file then.
 *
 * Platform adapters whose leader keeps its database in a file pass it to `hostLeader`:
 * @example
 * return hostLeader(db, { ...openOptions, storageMode: 'file', readImage: readSparseImage })
 */
export function readSparseImage(
  sqlite3: Sqlite3,
  dbPointer: number,
  out: number,
  roots: readonly TreeRoot[],
  /** Bytes of room after the database, so the session's first writes need no bigger block. */
  spare: number,
): WasmCopy | undefined {
  const main = mainFile(sqlite3, dbPointer, out)
  if (main === undefined || main.size < 512) return undefined
  const header = readHeader(sqlite3, main)
  if (header === undefined) return undefined
  const { pageSize, pageCount } = header
  const usable = pageSize - header.reserved
  const size = pageCount * pageSize
  const pointer = allocate(sqlite3, size + spare)
  const chunkPages = Math.max(1, Math.floor(SCAN_CHUNK / pageSize))
  const scratch = sqlite3.wasm.exports.sqlite3_malloc(chunkPages * pageSize) as number
  try {
    if (!scratch) throw new SqliteError('Out of memory for a copy of the database', 7)
    // the heap does not grow from here on (nothing allocates): one view serves every read
    const h = sqlite3.wasm.heap8u()
    const u32 = (at: number) => h[at]! * 0x1000000 + ((h[at + 1]! << 16) | (h[at + 2]! << 8) | h[at + 3]!)
    const read = (to: number, first: number, pages: number) => {
      const rc = main.read(to, pages * pageSize, (first - 1) * pageSize)
      if (rc === 522) throw corrupt(`pages ${first}-${first + pages - 1} go past the end of the file (truncated?)`)
      if (rc !== 0) throw new SqliteError(`Reading the database file failed (sqlite code ${rc})`, rc)
    }
    // 1. one pass over the file in large reads: each page's type byte, and the children of
    // those that look like interior pages (a page is known to be a B-tree page only in step 2)
    const types = new Uint8Array(pageCount + 1)
    const children = new Map<number, number[]>()
    for (let first = 1; first <= pageCount; first += chunkPages) {
      const n = Math.min(chunkPages, pageCount - first + 1)
      read(scratch, first, n)
      for (let page = first; page < first + n; page++) {
        const at = scratch + (page - first) * pageSize
        const base = at + (page === 1 ? 100 : 0)
        const type = h[base]!
        types[page] = type
        if (type !== INDEX_INTERIOR && type !== TABLE_INTERIOR) continue
        const cells = (h[base + 3]! << 8) | h[base + 4]!
        const firstCell = base - at + 12 + cells * 2
        if (firstCell > usable) continue // not a B-tree page after all, or a damaged one
        const list: number[] = []
        for (let i = 0; i < cells; i++) {
          const offset = (h[base + 12 + 2 * i]! << 8) | h[base + 13 + 2 * i]!
          if (offset < firstCell || offset + 4 > usable) break
          list.push(u32(at + offset))
        }
        if (list.length === cells) {
          list.push(u32(base + 8))
          children.set(page, list)
        }
      }
    }
    // 2. each tree from its root: every page a B-tree page of the tree's kind, in one tree only
    const owner = new Uint8Array(pageCount + 1) // 0 unseen, 1 kept B-tree page, 2 checked only, 3 kept other page
    const walk = (tree: TreeRoot) => {
      const what = `the B-tree of ${tree.name}`
      const pages = [tree.root]
      let table: boolean | undefined
      while (pages.length > 0) {
        const page = pages.pop()!
        if (page < 1 || page > pageCount) throw corrupt(`${what} points to page ${page}, outside the file's ${pageCount} pages`)
        if (owner[page] !== 0) throw corrupt(`page ${page} is used twice (${what})`)
        owner[page] = tree.keep ? 1 : 2
        const type = types[page]!
        if (type !== INDEX_INTERIOR && type !== TABLE_INTERIOR && type !== INDEX_LEAF && type !== TABLE_LEAF)
          throw corrupt(`page ${page} of ${what} is not a B-tree page (type ${type})`)
        const isTable = type === TABLE_INTERIOR || type === TABLE_LEAF
        if (table !== undefined && table !== isTable) throw corrupt(`page ${page} of ${what} is of another kind of B-tree`)
        table = isTable
        if (type === INDEX_LEAF || type === TABLE_LEAF) continue
        const list = children.get(page)
        if (list === undefined) throw corrupt(`interior page ${page} of ${what} has cells outside the page`)
        for (const child of list) pages.push(child)
      }
    }
    walk({ root: 1, keep: true, name: 'sqlite_schema' })
    for (const tree of roots) walk(tree)
    // 3. the kept trees' pages into the image, consecutive ones in one read
    for (let page = 1; page <= pageCount;) {
      if (owner[page] !== 1) {
        page++
        continue
      }
      let end = page
      while (end < pageCount && owner[end + 1] === 1) end++
      read(pointer + (page - 1) * pageSize, page, end - page + 1)
      page = end + 1
    }
    // their overflow pages: chains of page numbers found only in the cells
    const kept = (page: number, what: string): number => {
      if (page < 1 || page > pageCount) throw corrupt(`${what} points to page ${page}, outside the file's ${pageCount} pages`)
      if (owner[page] !== 0) throw corrupt(`page ${page} is used twice (${what})`)
      owner[page] = 3
      const at = pointer + (page - 1) * pageSize
      read(at, page, 1)
      return at
    }
    const maxLocalTable = usable - 35
    const maxLocalIndex = Math.floor(((usable - 12) * 64) / 255) - 23
    const minLocal = Math.floor(((usable - 12) * 32) / 255) - 23
    for (let page = 1; page <= pageCount; page++) {
      const type = types[page]!
      if (owner[page] !== 1 || type === TABLE_INTERIOR) continue
      const at = pointer + (page - 1) * pageSize
      const base = at + (page === 1 ? 100 : 0)
      const leaf = type === INDEX_LEAF || type === TABLE_LEAF
      const pointers = base + (leaf ? 8 : 12)
      const cells = (h[base + 3]! << 8) | h[base + 4]!
      const firstCell = pointers - at + cells * 2
      if (firstCell > usable) throw corrupt(`page ${page} claims ${cells} cells`)
      const maxLocal = type === TABLE_LEAF ? maxLocalTable : maxLocalIndex
      for (let i = 0; i < cells; i++) {
        const offset = (h[pointers + 2 * i]! << 8) | h[pointers + 2 * i + 1]!
        if (offset < firstCell || offset >= usable) throw corrupt(`cell ${i} of page ${page} is outside the page`)
        let p = at + offset + (leaf ? 0 : 4)
        // the payload's size: a varint (sizes stay far below 2^53)
        let payload = 0
        for (let n = 0; n < 9; n++) {
          const b = h[p++]!
          if (n === 8) {
            payload = payload * 256 + b
            break
          }
          payload = payload * 128 + (b & 0x7f)
          if (b < 0x80) break
        }
        if (payload <= maxLocal) continue
        // the rowid, a varint
        if (type === TABLE_LEAF) for (let n = 0; n < 9 && h[p++]! >= 0x80; n++);
        const k = minLocal + ((payload - minLocal) % (usable - 4))
        const local = k <= maxLocal ? k : minLocal
        if (p + local + 4 > at + usable) throw corrupt(`cell ${i} of page ${page} runs past the page`)
        let next = u32(p + local)
        for (let left = payload - local; left > 0; left -= usable - 4) next = u32(kept(next, `an overflow chain on page ${page}`))
      }
    }
    // the freelist's trunk pages: SQLite reads them to reuse pages (its leaves hold nothing)
    for (let trunk = header.freelistTrunk; trunk !== 0;) {
      const at = kept(trunk, 'the freelist')
      if (u32(at + 4) > usable / 4 - 2) throw corrupt(`freelist trunk page ${trunk} claims ${u32(at + 4)} pages`)
      trunk = u32(at)
    }
    markRollbackJournal(sqlite3, pointer)
    return { pointer, size, capacity: size + spare }
  } catch (e) {
    sqlite3.wasm.exports.sqlite3_free(pointer)
    throw e
  } finally {
    if (scratch) sqlite3.wasm.exports.sqlite3_free(scratch)
  }
}

/** Bytes per read while scanning a file's pages (its memory is reused for every read). */
const SCAN_CHUNK = 1 << 20

const corrupt = (why: string) => new SqliteError(`database disk image is malformed: ${why}`, SQLITE_CORRUPT)

interface Header {
  readonly pageSize: number
  readonly reserved: number
  readonly pageCount: number
  readonly freelistTrunk: number
}

/** The file header's facts this copy needs; undefined for a database it cannot copy (auto-vacuum). */
function readHeader(sqlite3: Sqlite3, main: MainFile): Header | undefined {
  const header = allocate(sqlite3, 100)
  try {
    const rc = main.read(header, 100, 0)
    if (rc === 522) throw corrupt('the file is shorter than its header')
    if (rc !== 0) throw new SqliteError(`Reading the database file failed (sqlite code ${rc})`, rc)
    const h = sqlite3.wasm.heap8u()
    const u32 = (at: number) =>
      h[header + at]! * 0x1000000 + ((h[header + at + 1]! << 16) | (h[header + at + 2]! << 8) | h[header + at + 3]!)
    const raw = (h[header + 16]! << 8) | h[header + 17]!
    const pageSize = raw === 1 ? 65536 : raw
    // auto-vacuum keeps pointer-map pages, which this copy would leave out
    if (u32(52) !== 0 || pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) return undefined
    // the size in the header counts only when the version that wrote it kept it (as SQLite reads it)
    const inHeader = u32(28)
    const pageCount = inHeader > 0 && u32(24) === u32(92) ? inHeader : Math.floor(main.size / pageSize)
    return { pageSize, reserved: h[header + 20]!, pageCount, freelistTrunk: u32(32) }
  } finally {
    sqlite3.wasm.exports.sqlite3_free(header)
  }
}
