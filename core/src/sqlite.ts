import sqlite3InitModule from '@sqlite.org/sqlite-wasm'
import type { BindValues, SqlValue } from './sql.ts'

// The sqlite-wasm typings model the module loosely; we keep our own narrow view of what we call.
type Sqlite3 = Awaited<ReturnType<typeof sqlite3InitModule>>
type OoDb = InstanceType<Sqlite3['oo1']['DB']>
type OoStmt = ReturnType<OoDb['prepare']>

export type Row = Record<string, SqlValue>

let modulePromise: Promise<Sqlite3> | undefined

/** Loads the sqlite-wasm module once per JS realm. */
export function loadSqlite(): Promise<Sqlite3> {
  modulePromise ??= sqlite3InitModule()
  return modulePromise
}

const SQLITE_ROW = 100
const SQLITE_INTEGER = 1
const SQLITE_FLOAT = 2
const SQLITE_TEXT = 3
const SQLITE_BLOB = 4
const SQLITE_SESSION_OBJCONFIG_ROWID = 2
const SQLITE_CHANGESET_ABORT = 2
const STATEMENT_CACHE_SIZE = 256

/** A failure reported by SQLite, with the table and column parsed out of constraint messages. */
export class SqliteError extends Error {
  readonly resultCode: number
  readonly table: string | undefined
  readonly column: string | undefined
  constructor(message: string, resultCode: number, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'SqliteError'
    this.resultCode = resultCode
    const m = /constraint failed: ([\w$]+)\.([\w$]+)/i.exec(message)
    this.table = m?.[1]
    this.column = m?.[2]
  }
  get isConstraint(): boolean {
    return (this.resultCode & 0xff) === 19
  }
}

interface CachedStatement {
  readonly stmt: OoStmt
  readonly pointer: number
  columnNames: string[] | undefined
}

/** What one recorded write produced: an SQLite changeset and the tables it touched. */
export interface RecordedChanges {
  readonly changeset: Uint8Array | null
  readonly tables: ReadonlySet<string>
}

/**
 * A synchronous SQLite database on sqlite-wasm, tuned for the hot paths of a store: cached
 * prepared statements, typed column reads, changeset recording with the session extension.
 */
export class SqliteDb {
  private readonly statements = new Map<string, CachedStatement>()
  private closed = false
  private txDepth = 0

  private constructor(
    private readonly sqlite3: Sqlite3,
    private readonly db: OoDb,
  ) {}

  static async open(): Promise<SqliteDb> {
    const sqlite3 = await loadSqlite()
    return new SqliteDb(sqlite3, new sqlite3.oo1.DB(':memory:', 'c'))
  }

  /** Opens an in-memory database holding a copy of `bytes` (from `serialize()`). */
  static async deserialize(bytes: Uint8Array): Promise<SqliteDb> {
    const sqlite3 = await loadSqlite()
    const db = new sqlite3.oo1.DB(':memory:', 'c')
    const { capi, wasm } = sqlite3
    const p = wasm.allocFromTypedArray(bytes)
    const rc = capi.sqlite3_deserialize(
      db.pointer!,
      'main',
      p,
      bytes.byteLength,
      bytes.byteLength,
      capi.SQLITE_DESERIALIZE_FREEONCLOSE | capi.SQLITE_DESERIALIZE_RESIZEABLE,
    )
    if (rc !== 0) {
      db.close()
      throw new SqliteError(`Could not load the database snapshot (sqlite code ${rc})`, rc)
    }
    return new SqliteDb(sqlite3, db)
  }

  serialize(): Uint8Array {
    return this.sqlite3.capi.sqlite3_js_db_export(this.db.pointer!)
  }

  /** Runs one or more statements without results (DDL, pragmas). */
  exec(sql: string): void {
    try {
      this.db.exec(sql)
    } catch (e) {
      throw toSqliteError(e)
    }
  }

  /** Runs a statement and returns its rows as plain objects. */
  select(sql: string, bindValues?: BindValues): Row[] {
    const cached = this.prepare(sql)
    const { stmt } = cached
    try {
      if (bindValues !== undefined && bindValues.length > 0) stmt.bind(bindValues as SqlValue[])
      const names = (cached.columnNames ??= stmt.getColumnNames())
      const n = names.length
      const rows: Row[] = []
      const capi = this.sqlite3.capi
      const p = cached.pointer
      let rc: number
      while ((rc = capi.sqlite3_step(p)) === SQLITE_ROW) {
        const row: Row = {}
        for (let i = 0; i < n; i++) row[names[i]!] = this.column(p, i)
        rows.push(row)
      }
      this.checkStepDone(rc)
      return rows
    } catch (e) {
      throw toSqliteError(e)
    } finally {
      this.reset(cached.pointer)
    }
  }

  /** Runs a statement and returns the first column of every row. */
  selectColumn(sql: string, bindValues?: BindValues): SqlValue[] {
    const cached = this.prepare(sql)
    const { stmt } = cached
    try {
      if (bindValues !== undefined && bindValues.length > 0) stmt.bind(bindValues as SqlValue[])
      const out: SqlValue[] = []
      const capi = this.sqlite3.capi
      let rc: number
      while ((rc = capi.sqlite3_step(cached.pointer)) === SQLITE_ROW) out.push(this.column(cached.pointer, 0))
      this.checkStepDone(rc)
      return out
    } catch (e) {
      throw toSqliteError(e)
    } finally {
      this.reset(cached.pointer)
    }
  }

  /** Runs a write statement; returns the number of rows it changed. */
  run(sql: string, bindValues?: BindValues): number {
    const cached = this.prepare(sql)
    const { stmt } = cached
    try {
      if (bindValues !== undefined && bindValues.length > 0) stmt.bind(bindValues as SqlValue[])
      const capi = this.sqlite3.capi
      let rc: number
      while ((rc = capi.sqlite3_step(cached.pointer)) === SQLITE_ROW) {
        // a write with RETURNING yields rows; run() ignores them
      }
      this.checkStepDone(rc)
      return capi.sqlite3_changes(this.db.pointer!)
    } catch (e) {
      throw toSqliteError(e)
    } finally {
      this.reset(cached.pointer)
    }
  }

  /**
   * The tables a statement reads, from SQLite's own plan (`tables_used`), so joins, subqueries,
   * views and CTEs are all covered.
   */
  tablesRead(sql: string): string[] {
    const rows = this.select(
      `SELECT DISTINCT name FROM tables_used(?) WHERE type = 'table' AND schema = 'main'`,
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
   * Runs `fn` while the session extension records every row it changes; returns the changeset
   * (null when nothing changed) and the names of the tables written. Rowid tables without an
   * explicit primary key are recorded by rowid.
   */
  recordChanges(fn: () => void): RecordedChanges {
    const { capi, wasm } = this.sqlite3
    const stack = wasm.pstack
    const sp = stack.pointer
    let pSession = 0
    try {
      const ppSession = stack.allocPtr() as number
      check(capi.sqlite3session_create(this.db.pointer!, 'main', ppSession), 'sqlite3session_create')
      pSession = wasm.peekPtr(ppSession) as number
      const pOn = stack.alloc(4) as number
      wasm.poke32(pOn, 1)
      // the typings omit the third (pArg) parameter that the C function and the binding take
      const objectConfig = capi.sqlite3session_object_config as unknown as (p: number, op: number, pArg: number) => number
      check(objectConfig(pSession, SQLITE_SESSION_OBJCONFIG_ROWID, pOn), 'session rowid config')
      check(capi.sqlite3session_attach(pSession, null), 'sqlite3session_attach')
      fn()
      const pn = stack.alloc(4) as number
      const pp = stack.allocPtr() as number
      check(capi.sqlite3session_changeset(pSession, pn, pp), 'sqlite3session_changeset')
      const n = wasm.peek32(pn) as number
      const p = wasm.peekPtr(pp) as number
      if (n === 0) {
        if (p) capi.sqlite3_free(p)
        return { changeset: null, tables: EMPTY_SET }
      }
      const changeset = wasm.heap8u().slice(p, p + n)
      const tables = this.changesetTables(p, n)
      capi.sqlite3_free(p)
      return { changeset, tables }
    } finally {
      if (pSession) capi.sqlite3session_delete(pSession)
      stack.restore(sp)
    }
  }

  /**
   * Undoes a changeset recorded by `recordChanges` (applies its inverse). Changesets must be
   * undone newest first. Returns the tables touched. Throws if the database no longer matches
   * what the changeset recorded.
   */
  revertChanges(changeset: Uint8Array): ReadonlySet<string> {
    const { capi, wasm } = this.sqlite3
    const stack = wasm.pstack
    const sp = stack.pointer
    const pIn = wasm.allocFromTypedArray(changeset) as number
    let pInv = 0
    try {
      const pn = stack.alloc(4) as number
      const pp = stack.allocPtr() as number
      check(capi.sqlite3changeset_invert(changeset.byteLength, pIn, pn, pp), 'sqlite3changeset_invert')
      const n = wasm.peek32(pn) as number
      pInv = wasm.peekPtr(pp) as number
      const tables = this.changesetTables(pInv, n)
      let conflict = false
      const rc = capi.sqlite3changeset_apply(this.db.pointer!, n, pInv, 0, () => {
        conflict = true
        return SQLITE_CHANGESET_ABORT
      }, 0)
      if (conflict || rc !== 0) {
        throw new SqliteError(`Reverting a changeset conflicted with the current state (sqlite code ${rc})`, rc)
      }
      return tables
    } finally {
      wasm.dealloc(pIn)
      if (pInv) capi.sqlite3_free(pInv)
      stack.restore(sp)
    }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    for (const { stmt } of this.statements.values()) stmt.finalize()
    this.statements.clear()
    this.db.close()
  }

  private changesetTables(p: number, n: number): Set<string> {
    const { capi, wasm } = this.sqlite3
    const stack = wasm.pstack
    const sp = stack.pointer
    const tables = new Set<string>()
    try {
      const ppIter = stack.allocPtr() as number
      check(capi.sqlite3changeset_start(ppIter, n, p), 'sqlite3changeset_start')
      const pIter = wasm.peekPtr(ppIter) as number
      const pzTab = stack.allocPtr() as number
      const pnCol = stack.alloc(4) as number
      const pOp = stack.alloc(4) as number
      const pIndirect = stack.alloc(4) as number
      let lastNamePtr = 0
      try {
        while (capi.sqlite3changeset_next(pIter) === SQLITE_ROW) {
          capi.sqlite3changeset_op(pIter, pzTab, pnCol, pOp, pIndirect)
          const namePtr = wasm.peekPtr(pzTab) as number
          // the iterator reuses the name pointer while it walks one table's changes
          if (namePtr !== lastNamePtr) {
            lastNamePtr = namePtr
            tables.add(wasm.cstrToJs(namePtr) ?? "")
          }
        }
      } finally {
        capi.sqlite3changeset_finalize(pIter)
      }
      return tables
    } finally {
      stack.restore(sp)
    }
  }

  private prepare(sql: string): CachedStatement {
    let cached = this.statements.get(sql)
    if (cached !== undefined) {
      // re-insert so the Map's order is least-recently-used first
      this.statements.delete(sql)
      this.statements.set(sql, cached)
      return cached
    }
    let stmt: OoStmt
    try {
      stmt = this.db.prepare(sql)
    } catch (e) {
      throw toSqliteError(e)
    }
    cached = { stmt, pointer: stmt.pointer as number, columnNames: undefined }
    this.statements.set(sql, cached)
    if (this.statements.size > STATEMENT_CACHE_SIZE) {
      const [oldestSql, oldest] = this.statements.entries().next().value!
      this.statements.delete(oldestSql)
      oldest.stmt.finalize()
    }
    return cached
  }

  private column(p: number, i: number): SqlValue {
    const capi = this.sqlite3.capi
    switch (capi.sqlite3_column_type(p, i)) {
      case SQLITE_INTEGER: {
        const v = capi.sqlite3_column_double(p, i)
        return Number.isSafeInteger(v) ? v : (capi.sqlite3_column_int64(p, i) as bigint)
      }
      case SQLITE_FLOAT:
        return capi.sqlite3_column_double(p, i)
      case SQLITE_TEXT:
        return capi.sqlite3_column_text(p, i) ?? ''
      case SQLITE_BLOB: {
        const n = capi.sqlite3_column_bytes(p, i)
        const ptr = capi.sqlite3_column_blob(p, i) as number
        return n === 0 ? new Uint8Array(0) : this.sqlite3.wasm.heap8u().slice(ptr, ptr + n)
      }
      default:
        return null
    }
  }

  /** Resets without throwing: a failed step's error was already raised by checkStepDone. */
  private reset(p: number): void {
    const { capi } = this.sqlite3
    capi.sqlite3_reset(p)
    capi.sqlite3_clear_bindings(p)
  }

  private checkStepDone(rc: number): void {
    if (rc === 101) return // SQLITE_DONE
    const { capi } = this.sqlite3
    throw new SqliteError(capi.sqlite3_errmsg(this.db.pointer!), capi.sqlite3_extended_errcode(this.db.pointer!))
  }
}

const EMPTY_SET: ReadonlySet<string> = new Set()

function check(rc: number, what: string): void {
  if (rc !== 0) throw new SqliteError(`${what} failed (sqlite code ${rc})`, rc)
}

function toSqliteError(e: unknown): SqliteError {
  if (e instanceof SqliteError) return e
  const err = e as { message?: string; resultCode?: number }
  const message = String(err.message ?? e).replace(/^SQLITE_\w+: sqlite3 result code \d+: /, '')
  return new SqliteError(message, typeof err.resultCode === 'number' ? err.resultCode : 1, { cause: e })
}
