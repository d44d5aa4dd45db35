import sqlite3InitModule from '@sqlite.org/sqlite-wasm'
import { CairnError } from '../errors.ts'
import { SqlReal, type RevertValue } from './changeset-reader.ts'
import { revertChangeset } from './changeset-revert.ts'
import { insertChunk, insertRunLength } from './insert-runs.ts'
import { RecordedWrites } from './recorded-writes.ts'
import {
  applyChangesets,
  combineChangesets,
  recordChangeset,
  revertWithSessionApply,
  type RecordedChanges,
  type SessionTarget,
  type SessionWasm,
} from './changesets.ts'
import { readFileImage, type SparseImageReader, type WasmCopy } from './file-image.ts'
import { SqliteError } from './sqlite-error.ts'
import { check, decodeUtf8, toSqliteError, updateHookThunk, type RawExports } from './wasm.ts'
import { quoteId, type BindValues, type SqlValue } from './sql.ts'

export { RecordedWrites, SqliteError, type RecordedChanges }

// The sqlite-wasm typings model the module loosely; we keep our own narrow view of what we call.
type Sqlite3 = Awaited<ReturnType<typeof sqlite3InitModule>>
type OoDb = InstanceType<Sqlite3['oo1']['DB']>
type OoStmt = ReturnType<OoDb['prepare']>

export type Row = Record<string, SqlValue>

/** The columns of the current row of `selectRows`, by index (0 first). */
export interface ColumnReader {
  /** A column that holds a number (INTEGER or REAL; NULL reads as 0). */
  number(i: number): number
  /** A column that holds text (NOT NULL TEXT). */
  text(i: number): string
  /**
   * A column of short text that is often the previous row's (an event's name, its client's id):
   * that string again when its bytes are the same, without decoding them.
   */
  repeatedText(i: number): string
}

/** Where `SqliteDb.open` opens a database; by default in memory. */
export interface SqliteOpenOptions {
  /** The database file, as the VFS names it (a path for Node's, a name in the pool for OPFS). */
  readonly filename?: string
  /**
   * The VFS to open `filename` with: one registered with the module from `loadSqlite()`
   * (e.g. `'opfs-sahpool'`, or the Node adapter's). Default: the build's default VFS.
   */
  readonly vfs?: string
}

let modulePromise: Promise<Sqlite3> | undefined

/** Loads the sqlite-wasm module once per JS realm; a load that failed is tried again by the next call. */
export function loadSqlite(): Promise<Sqlite3> {
  modulePromise ??= sqlite3InitModule().catch((e: unknown) => {
    modulePromise = undefined
    throw new CairnError(
      'SqliteLoadFailed',
      `Loading sqlite-wasm failed: ${(e as Error)?.message ?? e}. Check that its .wasm file is served (bundler asset settings) and that memory is available; the next store tries again.`,
      { cause: e },
    )
  })
  return modulePromise
}

const SQLITE_ROW = 100
const SQLITE_INTEGER = 1
const SQLITE_FLOAT = 2
const SQLITE_TEXT = 3
const SQLITE_BLOB = 4
const STATEMENT_CACHE_SIZE = 256
const SQLITE_DELETE_ACTION = 9
const SQLITE_IGNORE = 2

interface CachedStatement {
  readonly stmt: OoStmt
  readonly pointer: number
  /** Changes nothing (a read, or transaction control): never recorded by `recordWrites`. */
  readonly readonly: boolean
  /** How many parameters it has. */
  readonly params: number
  columnNames: string[] | undefined
  lastUsed: number
}

/**
 * A synchronous SQLite database on sqlite-wasm, tuned for the hot paths of a store: cached
 * prepared statements, typed column reads, changeset recording with the session extension.
 */
export class SqliteDb {
  private readonly statements = new Map<string, CachedStatement>()
  private closed = false
  private txDepth = 0
  private useClock = 0

  // raw wasm exports: the wrapped capi functions convert every argument and cost ~5x more
  private readonly w: RawExports
  private readonly dbPointer: number
  private scratch = 0
  private scratchSize = 0
  private out = 0
  private mainName = 0

  /** What the session-extension functions (changesets.ts) use of this database. */
  private readonly session: SessionTarget

  private writes: RecordedWrites | undefined
  /** The bind values of a multi-row insert, reused (see `replayWrites`). */
  private readonly rowValues: unknown[] = []
  private recordingTables: Set<string> | undefined
  private tableHooks = false
  private readonly tableNames = new Map<number, string>()
  /** Slots of the wasm function table this database took (its hooks); freed by close(). */
  private readonly installed: number[] = []
  private readonly columnsByTable = new Map<string, readonly string[]>()
  // heap8u() builds a new view whenever asked; a view only goes stale when the wasm memory grows
  // (its buffer is then detached and its length 0), so one view serves every read until then
  private heapView: Uint8Array = new Uint8Array(0)

  private constructor(
    private readonly sqlite3: Sqlite3,
    private readonly db: OoDb,
    /** The file the database lives in; undefined in memory. */
    readonly filename?: string,
  ) {
    this.w = sqlite3.wasm.exports as unknown as RawExports
    this.dbPointer = db.pointer as number
    this.session = { wasm: sqlite3.wasm as unknown as SessionWasm, w: this.w, dbPointer: this.dbPointer, heap: () => this.heap() }
  }

  /**
   * Opens a database: in memory, or `filename` through a VFS (created when missing).
   *
   * @example
   * const db = await SqliteDb.open({ filename: '/todos.sqlite', vfs: 'opfs-sahpool' })
   */
  static async open(options: SqliteOpenOptions = {}): Promise<SqliteDb> {
    const sqlite3 = await loadSqlite()
    if (options.filename === undefined) return new SqliteDb(sqlite3, new sqlite3.oo1.DB(':memory:', 'c'))
    let db: OoDb
    try {
      db = new sqlite3.oo1.DB({ filename: options.filename, flags: 'c', ...(options.vfs === undefined ? {} : { vfs: options.vfs }) })
    } catch (e) {
      throw toSqliteError(e)
    }
    return new SqliteDb(sqlite3, db, options.filename)
  }

  /** Opens an in-memory database holding a copy of `bytes` (from `serialize()`). */
  static async deserialize(bytes: Uint8Array): Promise<SqliteDb> {
    const sqlite3 = await loadSqlite()
    const db = new sqlite3.oo1.DB(':memory:', 'c')
    try {
      adopt(sqlite3, db.pointer as number, copyIntoWasm(sqlite3, bytes))
    } catch (e) {
      db.close()
      throw e
    }
    return new SqliteDb(sqlite3, db)
  }

  /**
   * A copy of this database in a new connection, for a session of a leader in the same process.
   * The copy goes from SQLite's memory to SQLite's memory: a copy through a JS buffer (`serialize`
   * then `deserialize`) wrote 37 MB into fresh memory, which took ~100 ms on its page faults.
   */
  copy(): SqliteDb {
    const db = new this.sqlite3.oo1.DB(':memory:', 'c')
    try {
      adopt(this.sqlite3, db.pointer as number, this.copyInWasm())
    } catch (e) {
      db.close()
      throw e
    }
    return new SqliteDb(this.sqlite3, db)
  }

  /**
   * A copy of this database without the named tables (and their indexes), in a new in-memory
   * connection: what a session of a leader in the same process boots from. A file database is
   * read tree by tree, only the pages of the tables kept landing in the copy: the pages of those
   * left out are checked (a damaged file fails here, as a copy would) but never copied, and the
   * copy's schema forgets them. Reading a 100,000-event store's whole file (34 MB, mostly its
   * eventlog) and dropping the log from the copy took ~250 ms and 50 MB; its state is 8 MB.
   * `readImage` is `readSparseImage`, passed in by the adapters that open files so that an app
   * that keeps its stores in memory does not bundle it; without it, or in memory, the copy is
   * whole and the tables are dropped from it.
   */
  copyWithout(tables: readonly string[], readImage?: SparseImageReader): SqliteDb {
    const image = this.filename === undefined || readImage === undefined ? undefined : this.sparseImage(tables, readImage)
    if (image === undefined) {
      const copy = this.copy()
      try {
        for (const table of tables) copy.exec(`DROP TABLE IF EXISTS ${quoteId(table)}`)
      } catch (e) {
        copy.close()
        throw e
      }
      return copy
    }
    const db = new this.sqlite3.oo1.DB(':memory:', 'c')
    try {
      adopt(this.sqlite3, db.pointer as number, image)
      const copy = new SqliteDb(this.sqlite3, db)
      // their pages are zeros in the copy: nothing may reach them through the schema
      copy.exec(
        `PRAGMA writable_schema = ON; DELETE FROM sqlite_schema WHERE tbl_name IN (${tables.map(quoteString).join(', ')}); PRAGMA writable_schema = RESET;`,
      )
      return copy
    } catch (e) {
      db.close()
      throw e
    }
  }

  /** A file database's image holding every tree but those of `tables` (see `copyWithout`). */
  private sparseImage(tables: readonly string[], readImage: SparseImageReader): WasmCopy | undefined {
    // with the WAL checkpointed into it, the file holds every committed page
    if (this.select('PRAGMA wal_checkpoint(RESTART)')[0]?.busy !== 0) return undefined
    const roots = this.select('SELECT name, tbl_name, rootpage FROM sqlite_schema WHERE rootpage > 1').map((r) => ({
      root: Number(r.rootpage),
      keep: !tables.includes(r.tbl_name as string),
      name: String(r.name),
    }))
    // room for the session's writes (untouched memory costs nothing): growing the block copies all of it
    const pages = Number(this.select('PRAGMA page_count')[0]?.page_count ?? 0)
    const pageSize = Number(this.select('PRAGMA page_size')[0]?.page_size ?? 4096)
    const spare = Math.max(4 << 20, Math.floor((pages * pageSize) / 4))
    return readImage(this.sqlite3, this.dbPointer, this.outPointers(), roots, spare)
  }

  /**
   * Replaces this connection's database with a copy of `source` (bytes from `serialize()`, or a
   * database, which is closed after), keeping the connection: a session that lost track of its
   * state reloads the leader's.
   */
  load(source: Uint8Array | SqliteDb): void {
    for (const { stmt } of this.statements.values()) stmt.finalize()
    this.statements.clear()
    this.columnsByTable.clear()
    this.tableNames.clear()
    if (source instanceof SqliteDb) {
      const copied = source.copyInWasm()
      source.close()
      adopt(this.sqlite3, this.dbPointer, copied)
    } else adopt(this.sqlite3, this.dbPointer, copyIntoWasm(this.sqlite3, source))
  }

  /** A copy of the database in memory from sqlite3_malloc: its pointer and size. */
  private copyInWasm(): WasmCopy {
    const { capi, wasm } = this.sqlite3
    const size = this.outPointers()
    if (this.filename !== undefined) {
      // a file database: with the WAL checkpointed into it, one read of the file is a copy
      // RESTART, not TRUNCATE: a file adapter may keep its WAL file grown (see adapter-node)
      const busy = this.select('PRAGMA wal_checkpoint(RESTART)')[0]?.busy
      const image = busy === 0 ? readFileImage(this.sqlite3, this.dbPointer, size) : undefined
      if (image !== undefined) return image
    }
    const p = capi.sqlite3_serialize(this.dbPointer, 'main', size, capi.SQLITE_SERIALIZE_NOCOPY) as number
    if (p === 0) {
      // not held in one buffer (not a deserialized database): SQLite copies it page by page
      wasm.poke(size, 0, 'i64')
      const copied = capi.sqlite3_serialize(this.dbPointer, 'main', size, 0) as number
      const n = Number(wasm.peek(size, 'i64'))
      if (copied !== 0) return { pointer: copied, size: n }
      if (n > 0) throw new SqliteError('Out of memory for a copy of the database', 7)
      // an empty database: nothing to copy, but deserialize needs a buffer it can free
      const empty = this.w.sqlite3_malloc(1)
      if (!empty) throw new SqliteError('Out of memory for a copy of the database', 7)
      return { pointer: empty, size: 0 }
    }
    const n = Number(wasm.peek(size, 'i64'))
    const to = this.w.sqlite3_malloc(Math.max(n, 1))
    if (!to) throw new SqliteError('Out of memory for a copy of the database', 7)
    // sqlite3_malloc may have grown the memory: take the view after it
    wasm.heap8u().copyWithin(to, p, p + n)
    return { pointer: to, size: n }
  }

  /** A copy of the whole database, for `deserialize` or `load`. */
  serialize(): Uint8Array {
    const { capi, wasm } = this.sqlite3
    const size = this.outPointers()
    // a memdb database (see open) hands out its buffer as it is: one copy, into JS
    const p = capi.sqlite3_serialize(this.dbPointer, 'main', size, capi.SQLITE_SERIALIZE_NOCOPY) as number
    if (p !== 0) return this.heap().slice(p, p + Number(wasm.peek(size, 'i64')))
    const copy = this.copyInWasm()
    try {
      return this.heap().slice(copy.pointer, copy.pointer + copy.size)
    } finally {
      this.w.sqlite3_free(copy.pointer)
    }
  }

  /** Runs one or more statements without results (DDL, pragmas). */
  exec(sql: string): void {
    this.columnsByTable.clear()
    this.tableNames.clear()
    try {
      this.db.exec(sql)
    } catch (e) {
      throw toSqliteError(e)
    }
  }

  /** Runs a statement and returns its rows as plain objects. */
  select(sql: string, bindValues?: BindValues): Row[] {
    const cached = this.prepare(sql)
    const p = cached.pointer
    const w = this.w
    try {
      this.bind(cached, bindValues ?? NO_VALUES, 0, bindValues?.length ?? 0)
      const names = (cached.columnNames ??= cached.stmt.getColumnNames())
      const n = names.length
      const rows: Row[] = []
      let rc: number
      while ((rc = w.sqlite3_step(p)) === SQLITE_ROW) {
        const row: Row = {}
        for (let i = 0; i < n; i++) row[names[i]!] = this.column(p, i)
        rows.push(row)
      }
      this.checkStepDone(rc)
      // a write with RETURNING, e.g. from ctx.query in a materializer
      if (this.writes !== undefined && !cached.readonly) this.writes.push(sql, bindValues)
      return rows
    } catch (e) {
      if (this.writes !== undefined && !cached.readonly) this.writes.failed = true
      throw e
    } finally {
      this.reset(p)
    }
  }

  /**
   * Runs a read and returns what `toValue` makes of each row: no object per row keyed by column
   * name, and no type check per value for columns whose type the caller knows (the leader reads
   * its whole log this way when it rebuilds).
   */
  selectRows<T>(sql: string, bindValues: BindValues, toValue: (row: ColumnReader) => T): T[] {
    const cached = this.prepare(sql)
    const p = cached.pointer
    const w = this.w
    // the last repeatedText value of each column, when it was ASCII (one byte per character)
    const previous: (string | undefined)[] = []
    const reader: ColumnReader = {
      number: (i) => w.sqlite3_column_double(p, i),
      text: (i) => {
        const ptr = w.sqlite3_column_text(p, i)
        return decodeUtf8(this.heap(), ptr, w.sqlite3_column_bytes(p, i))
      },
      repeatedText: (i) => {
        const ptr = w.sqlite3_column_text(p, i)
        const n = w.sqlite3_column_bytes(p, i)
        const heap = this.heap()
        const last = previous[i]
        if (last !== undefined && last.length === n) {
          let j = 0
          while (j < n && heap[ptr + j] === last.charCodeAt(j)) j++
          if (j === n) return last
        }
        const value = decodeUtf8(heap, ptr, n)
        previous[i] = value.length === n ? value : undefined
        return value
      },
    }
    try {
      this.bind(cached, bindValues, 0, bindValues.length)
      const out: T[] = []
      let rc: number
      while ((rc = w.sqlite3_step(p)) === SQLITE_ROW) out.push(toValue(reader))
      this.checkStepDone(rc)
      return out
    } finally {
      this.reset(p)
    }
  }

  /** Runs a statement and returns the first column of every row. */
  selectColumn(sql: string, bindValues?: BindValues): SqlValue[] {
    const cached = this.prepare(sql)
    const p = cached.pointer
    const w = this.w
    try {
      this.bind(cached, bindValues ?? NO_VALUES, 0, bindValues?.length ?? 0)
      const out: SqlValue[] = []
      let rc: number
      while ((rc = w.sqlite3_step(p)) === SQLITE_ROW) out.push(this.column(p, 0))
      this.checkStepDone(rc)
      if (this.writes !== undefined && !cached.readonly) this.writes.push(sql, bindValues)
      return out
    } catch (e) {
      if (this.writes !== undefined && !cached.readonly) this.writes.failed = true
      throw e
    } finally {
      this.reset(p)
    }
  }

  /** Runs a write statement; returns the number of rows it changed. */
  run(sql: string, bindValues?: BindValues | readonly RevertValue[]): number {
    return this.runOwned(sql, bindValues, false)
  }

  /**
   * `run` for callers that never change `bindValues` afterwards (`owned`): `recordWrites`
   * then keeps the array itself instead of a copy.
   */
  runOwned(sql: string, bindValues: BindValues | readonly RevertValue[] | undefined, owned: boolean): number {
    const cached = this.prepare(sql)
    const changes = this.step(cached, bindValues ?? NO_VALUES, 0, bindValues?.length ?? 0)
    if (this.writes !== undefined && !cached.readonly) this.writes.push(sql, bindValues, owned)
    return changes
  }

  /** Binds values[from, to), steps to the end, resets; returns the number of rows changed. */
  private step(cached: CachedStatement, values: BindValues | readonly RevertValue[], from: number, to: number): number {
    const p = cached.pointer
    const w = this.w
    try {
      this.bind(cached, values, from, to)
      let rc: number
      while ((rc = w.sqlite3_step(p)) === SQLITE_ROW) {
        // a write with RETURNING yields rows; run() ignores them
      }
      this.checkStepDone(rc)
      return w.sqlite3_changes(this.dbPointer)
    } catch (e) {
      if (this.writes !== undefined && !cached.readonly) this.writes.failed = true
      throw e
    } finally {
      this.reset(p)
    }
  }

  /**
   * Runs `fn` and returns the tables it wrote (as `recordTables`) and every write statement it
   * ran with its bind values, so that another database holding the same state can reach the
   * same state by `replayWrites` alone: without running the code that decided the writes, and
   * far cheaper to record than a changeset (which reads every changed row back).
   */
  recordWrites(fn: () => void): { readonly tables: ReadonlySet<string>; readonly writes: RecordedWrites } {
    const writes = new RecordedWrites()
    const outer = this.writes
    this.writes = writes
    let tables: ReadonlySet<string>
    try {
      tables = this.recordTables(fn)
    } finally {
      this.writes = outer
    }
    outer?.append(writes)
    return { tables, writes }
  }

  /**
   * Runs writes recorded by `recordWrites` on this database, in order. Throws (a SqliteError)
   * when one fails; the caller's transaction decides what is kept.
   */
  replayWrites(writes: RecordedWrites): void {
    const { sql, binds } = writes
    for (let k = 0; k < sql.length;) {
      // a run of the same one-row insert (a batch of events of one kind) goes in chunks of rows
      let run = insertRunLength(sql, k)
      while (run > 1) {
        const chunk = insertChunk(sql[k]!, run)
        if (chunk.rows === 1) break
        const flat = this.rowValues
        let n = 0
        for (let r = k; r < k + chunk.rows; r++) {
          const values = binds[r] ?? NO_VALUES
          for (let v = 0; v < values.length; v++) flat[n++] = values[v]
        }
        const cached = this.prepare(chunk.sql)
        this.step(cached, flat as BindValues, 0, n)
        flat.length = 0
        if (this.writes !== undefined) for (let r = k; r < k + chunk.rows; r++) this.writes.push(sql[r]!, binds[r], true)
        k += chunk.rows
        run -= chunk.rows
      }
      if (run === 0) continue
      const cached = this.prepare(sql[k]!)
      const values = binds[k] ?? NO_VALUES
      this.step(cached, values, 0, values.length)
      if (this.writes !== undefined && !cached.readonly) this.writes.push(sql[k]!, values, true)
      k++
    }
  }

  /**
   * The tables a statement reads, from SQLite's own plan (`tables_used`), so joins, subqueries,
   * views and CTEs are all covered.
   */
  tablesRead(sql: string): string[] {
    // preparing first gives SQLite's own error for a bad statement ("no such column: x")
    this.prepare(sql)
    // a query answered from an index alone (count(*), covering indexes, PK lookups in joins)
    // lists the index, not the table: map indexes to their tables
    const rows = this.select(
      `SELECT DISTINCT CASE WHEN u.type = 'index' THEN m.tbl_name ELSE u.name END AS name
       FROM tables_used(?) u LEFT JOIN sqlite_schema m ON m.name = u.name AND m.type = 'index'
       WHERE u.schema = 'main' AND u.type IN ('table', 'index')`,
      [sql],
    )
    return rows.map((r) => r.name as string)
  }

  /**
   * Runs `fn` in a transaction (or a savepoint when nested). Throws what `fn` threw after rolling
   * back, so a failed write leaves the database untouched.
   */
  transaction<T>(fn: () => T): T {
    const depth = this.txDepth
    const name = `cairn_sp${depth}`
    this.run(depth === 0 ? 'BEGIN' : `SAVEPOINT ${name}`)
    this.txDepth++
    try {
      const result = fn()
      this.run(depth === 0 ? 'COMMIT' : `RELEASE ${name}`)
      return result
    } catch (e) {
      // An I/O error or a full disk (e.g. a browser's storage quota) makes SQLite roll the whole
      // transaction back itself: a ROLLBACK now would fail and hide the error that matters.
      if (this.sqlite3.capi.sqlite3_get_autocommit(this.dbPointer) !== 0) throw e
      if (depth === 0) this.run('ROLLBACK')
      else {
        this.run(`ROLLBACK TO ${name}`)
        this.run(`RELEASE ${name}`)
      }
      throw e
    } finally {
      this.txDepth--
    }
  }

  /**
   * Runs `fn` and returns the names of the tables whose rows it changed, without recording the
   * changes themselves: an update hook names the tables. About a tenth of `recordChanges`'s cost
   * on a small commit, whose changeset generation compiles a statement per table every time.
   */
  recordTables(fn: () => void): ReadonlySet<string> {
    this.installTableHooks()
    const tables = new Set<string>()
    const outer = this.recordingTables
    this.recordingTables = tables
    try {
      fn()
    } finally {
      this.recordingTables = outer
    }
    if (outer !== undefined) for (const t of tables) outer.add(t)
    return tables
  }

  private installTableHooks(): void {
    if (this.tableHooks) return
    this.tableHooks = true
    const { wasm } = this.sqlite3
    const onTable = (zTable: number) => {
      const into = this.recordingTables
      if (into === undefined) return
      // the name lives in the table's schema object; a schema change clears the cache (exec)
      let name = this.tableNames.get(zTable)
      if (name === undefined) this.tableNames.set(zTable, (name = wasm.cstrToJs(zTable) as string))
      into.add(name)
    }
    const thunk = updateHookThunk(onTable)
    const onUpdate = (
      thunk !== undefined
        ? wasm.installFunction(thunk as unknown as (...args: unknown[]) => unknown, 'v(pippj)')
        : wasm.installFunction('v(pippj)', (_arg: number, _op: number, _db: number, zTable: number) => onTable(zTable))
    ) as number
    this.w.sqlite3_update_hook(this.dbPointer, onUpdate, 0)
    this.installed.push(onUpdate)
    // `DELETE FROM t` without WHERE empties a table in one go and calls no update hook. An
    // authorizer answering IGNORE to a delete turns that optimization off (documented for
    // sqlite3_set_authorizer); only statements compiled while recording need it, and DDL
    // (where IGNORE would skip the statement) never runs then.
    const authorize = wasm.installFunction('i(pipppp)', (_arg: number, action: number) =>
      action === SQLITE_DELETE_ACTION && this.recordingTables !== undefined ? SQLITE_IGNORE : 0,
    ) as number
    this.w.sqlite3_set_authorizer(this.dbPointer, authorize, 0)
    this.installed.push(authorize)
  }

  /**
   * Runs `fn` while the session extension records every row it changes; returns the changeset
   * (null when nothing changed) and the names of the tables written. Rowid tables without an
   * explicit primary key are recorded by rowid.
   */
  recordChanges(fn: () => void): RecordedChanges {
    const out = this.outPointers()
    return recordChangeset(this.session, out, this.mainName, fn)
  }

  /**
   * Undoes a changeset recorded by `recordChanges` (applies its inverse). Changesets must be
   * undone newest first. Returns the tables touched. Throws if the database no longer matches
   * what the changeset recorded.
   */
  revertChanges(changeset: Uint8Array): ReadonlySet<string> {
    return this.revertAll([changeset])
  }

  /**
   * Undoes several changesets recorded one after another (oldest first in `changesets`): they
   * are combined into one, inverted and applied once, since each apply prepares its statements
   * anew. Returns the tables touched.
   */
  revertAll(changesets: readonly Uint8Array[]): ReadonlySet<string> {
    if (changesets.length === 0) return new Set()
    const bytes = changesets.length === 1 ? changesets[0]! : combineChangesets(this.session, changesets)
    try {
      return this.transaction(() => revertChangeset(this, bytes))
    } catch (e) {
      if (!(e instanceof SqliteError)) throw e
      // Rows that can only be restored together (two rows trading a UNIQUE value) or anything
      // else this path refuses: SQLite's own apply decides, at the price of recompiling the
      // connection's statements once. It also reports a real conflict.
      return revertWithSessionApply(this.session, changesets)
    }
  }

  /**
   * Applies changesets recorded by `recordChanges` (one after another, oldest first) on
   * another database that held the state they were recorded on: combined into one and applied
   * once, since each apply prepares its statements anew. Returns false, with nothing applied,
   * on any conflict (a row missing, present already, or holding other values than recorded):
   * the caller then runs the writes itself.
   */
  applyChangesets(changesets: readonly Uint8Array[]): boolean {
    return applyChangesets(this.session, changesets)
  }

  /** Column names of a table in table order (cached; DDL through exec() clears the cache). */
  columnsOf(table: string): readonly string[] {
    let names = this.columnsByTable.get(table)
    if (names === undefined) {
      names = this.selectColumn('SELECT name FROM pragma_table_info(?)', [table]) as string[]
      if (names.length === 0) throw new SqliteError(`no such table: ${table}`, 1)
      this.columnsByTable.set(table, names)
    }
    return names
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    for (const { stmt } of this.statements.values()) stmt.finalize()
    this.statements.clear()
    if (this.scratch) this.w.sqlite3_free(this.scratch)
    if (this.out) this.w.sqlite3_free(this.out)
    if (this.mainName) this.w.sqlite3_free(this.mainName)
    this.scratch = this.out = this.mainName = 0
    if (this.installed.length > 0) {
      // the hooks point into the function table: unset them before their slots are reused
      this.w.sqlite3_update_hook(this.dbPointer, 0, 0)
      this.w.sqlite3_set_authorizer(this.dbPointer, 0, 0)
      for (const p of this.installed) this.sqlite3.wasm.uninstallFunction(p)
      this.installed.length = 0
    }
    this.db.close()
  }

  /** 32 bytes of wasm memory for out-parameters, allocated once per database. */
  private outPointers(): number {
    if (this.out === 0) {
      this.out = this.w.sqlite3_malloc(32)
      this.mainName = this.w.sqlite3_malloc(8)
      this.sqlite3.wasm.heap8u().set([109, 97, 105, 110, 0], this.mainName) // "main\0"
    }
    return this.out
  }

  private prepare(sql: string): CachedStatement {
    let cached = this.statements.get(sql)
    if (cached !== undefined) {
      // a hit only stamps the entry: reordering the Map on every read cost more than the rare
      // eviction scan below
      cached.lastUsed = ++this.useClock
      return cached
    }
    let stmt: OoStmt
    try {
      stmt = this.db.prepare(sql)
    } catch (e) {
      throw toSqliteError(e)
    }
    if (this.statements.size >= STATEMENT_CACHE_SIZE) this.evictLeastRecentlyUsed()
    const pointer = stmt.pointer as number
    cached = {
      stmt,
      pointer,
      readonly: this.w.sqlite3_stmt_readonly(pointer) !== 0,
      params: this.w.sqlite3_bind_parameter_count(pointer),
      columnNames: undefined,
      lastUsed: ++this.useClock,
    }
    this.statements.set(sql, cached)
    return cached
  }

  private evictLeastRecentlyUsed(): void {
    let oldestSql: string | undefined
    let oldest: CachedStatement | undefined
    for (const [sql, entry] of this.statements) {
      if (oldest === undefined || entry.lastUsed < oldest.lastUsed) {
        oldest = entry
        oldestSql = sql
      }
    }
    if (oldest === undefined) return
    this.statements.delete(oldestSql!)
    oldest.stmt.finalize()
  }

  private column(p: number, i: number): SqlValue {
    const w = this.w
    switch (w.sqlite3_column_type(p, i)) {
      case SQLITE_INTEGER: {
        const v = w.sqlite3_column_double(p, i)
        return Number.isSafeInteger(v) ? v : w.sqlite3_column_int64(p, i)
      }
      case SQLITE_FLOAT:
        return w.sqlite3_column_double(p, i)
      case SQLITE_TEXT: {
        const ptr = w.sqlite3_column_text(p, i)
        const n = w.sqlite3_column_bytes(p, i)
        return decodeUtf8(this.heap(), ptr, n)
      }
      case SQLITE_BLOB: {
        const ptr = w.sqlite3_column_blob(p, i)
        const n = w.sqlite3_column_bytes(p, i)
        return n === 0 ? new Uint8Array(0) : this.heap().slice(ptr, ptr + n)
      }
      default:
        return null
    }
  }

  private heap(): Uint8Array {
    let h = this.heapView
    if (h.length === 0) this.heapView = h = this.sqlite3.wasm.heap8u()
    return h
  }

  /**
   * Binds values[from, to) to parameters 1, 2, ... No values leave every parameter NULL. Bound
   * values stay until the next bind (no sqlite3_clear_bindings after each run: every run binds
   * all parameters anew, and the call was a tenth of a small insert's cost).
   *
   * Text and blobs are bound SQLITE_STATIC from one scratch buffer, each value at its own offset:
   * SQLite then reads them in place instead of allocating and copying each one. This holds
   * because the buffer is only rewritten by the next bind, and every step is preceded by a bind
   * (or a clear) of all its parameters: a statement never steps with another's leftovers.
   */
  private bind(cached: CachedStatement, values: BindValues | readonly RevertValue[], from: number, to: number): void {
    const w = this.w
    const p = cached.pointer
    const expected = cached.params
    if (to === from) {
      if (expected > 0) w.sqlite3_clear_bindings(p)
      return
    }
    if (to - from !== expected) {
      throw new SqliteError(`The statement has ${expected} parameter(s) but ${to - from} bind value(s) were given.`, 25)
    }
    // room for every text and blob first: growing the buffer mid-way would move values bound already
    let room = 0
    for (let i = from; i < to; i++) {
      const v = values[i]
      if (typeof v === 'string') room += v.length * 3 + 1
      else if (v instanceof Uint8Array) room += v.byteLength + 1
    }
    if (room > 0) this.ensureScratch(room)
    let at = this.scratch
    for (let i = 0; i < to - from; i++) {
      const v = values[from + i]
      let rc: number
      if (v === null || v === undefined) rc = w.sqlite3_bind_null(p, i + 1)
      else if (typeof v === 'number') {
        // 32-bit integers skip the BigInt that the int64 binding needs
        rc =
          (v | 0) === v && !Object.is(v, -0)
            ? w.sqlite3_bind_int(p, i + 1, v)
            : Number.isSafeInteger(v)
              ? w.sqlite3_bind_int64(p, i + 1, BigInt(v))
              : w.sqlite3_bind_double(p, i + 1, v)
      } else if (typeof v === 'string') {
        const n = this.writeUtf8(v, at)
        rc = w.sqlite3_bind_text(p, i + 1, at, n, SQLITE_STATIC)
        at += n
      } else if (typeof v === 'bigint') rc = w.sqlite3_bind_int64(p, i + 1, v)
      else if (v instanceof Uint8Array) {
        this.heap().set(v, at)
        rc = w.sqlite3_bind_blob(p, i + 1, at, v.byteLength, SQLITE_STATIC)
        at += v.byteLength
      } else if (typeof v === 'boolean') rc = w.sqlite3_bind_int64(p, i + 1, v ? 1n : 0n)
      else if (v instanceof SqlReal) rc = w.sqlite3_bind_double(p, i + 1, v.value)
      else
        throw new SqliteError(
          `Cannot bind a value of type ${typeof v} (parameter ${i + 1}); pass a string, number, bigint, Uint8Array or null.`,
          20,
        )
      if (rc !== 0) throw new SqliteError(`Binding parameter ${i + 1} failed (sqlite code ${rc})`, rc)
    }
  }

  /** Writes a string as UTF-8 at `at` (with room for length * 3 bytes); returns its byte length. */
  private writeUtf8(value: string, at: number): number {
    const max = value.length * 3
    const heap = this.heap()
    if (max <= 12_288) {
      // ASCII is the common case (ids, names, the JSON of args): a plain loop beats encodeInto,
      // whose fixed cost (a call and a subarray per string) dominated even 100-character strings
      let ascii = true
      for (let j = 0; j < value.length; j++) {
        const c = value.charCodeAt(j)
        if (c > 127) {
          ascii = false
          break
        }
        heap[at + j] = c
      }
      if (ascii) return value.length
    }
    return encoder.encodeInto(value, heap.subarray(at, at + max)).written
  }

  private ensureScratch(size: number): void {
    if (size <= this.scratchSize) return
    if (this.scratch) this.w.sqlite3_free(this.scratch)
    this.scratchSize = Math.max(size, this.scratchSize * 2, 1024)
    this.scratch = this.w.sqlite3_malloc(this.scratchSize)
    if (!this.scratch) throw new SqliteError('Out of memory for a bind buffer', 7)
  }

  /** Resets without throwing: a failed step's error was already raised by checkStepDone. */
  private reset(p: number): void {
    this.w.sqlite3_reset(p)
  }

  private checkStepDone(rc: number): void {
    if (rc === 101) return // SQLITE_DONE
    const { capi } = this.sqlite3
    throw new SqliteError(capi.sqlite3_errmsg(this.db.pointer!), capi.sqlite3_extended_errcode(this.db.pointer!))
  }
}

function copyIntoWasm(sqlite3: Sqlite3, bytes: Uint8Array): WasmCopy {
  return { pointer: sqlite3.wasm.allocFromTypedArray(bytes) as number, size: bytes.byteLength }
}

/** Hands a copy made by copyIntoWasm/copyInWasm to the connection, which frees it on close. */
function adopt(sqlite3: Sqlite3, dbPointer: number, copy: WasmCopy): void {
  const { capi } = sqlite3
  const rc = capi.sqlite3_deserialize(
    dbPointer,
    'main',
    copy.pointer,
    copy.size,
    copy.capacity ?? copy.size,
    capi.SQLITE_DESERIALIZE_FREEONCLOSE | capi.SQLITE_DESERIALIZE_RESIZEABLE,
  )
  if (rc !== 0) throw new SqliteError(`Could not load the database snapshot (sqlite code ${rc})`, rc)
}

const quoteString = (value: string) => `'${value.replaceAll("'", "''")}'`

const NO_VALUES: BindValues = []
const SQLITE_STATIC = 0
const encoder = new TextEncoder()
