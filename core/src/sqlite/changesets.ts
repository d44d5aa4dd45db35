import { changesetTableNames } from './changeset-reader.ts'
import { SqliteError } from './sqlite-error.ts'
import { check, type RawExports } from './wasm.ts'

// SQLite's session extension on a database: recording changesets, combining, inverting and
// applying them. SqliteDb's methods of the same names call these.

/** What these functions need of a SqliteDb. */
export interface SessionTarget {
  readonly wasm: SessionWasm
  readonly w: RawExports
  readonly dbPointer: number
  heap(): Uint8Array
}

/** The parts of sqlite-wasm's `wasm` helper used here. */
export interface SessionWasm {
  readonly pstack: { readonly pointer: unknown; alloc(n: number): unknown; allocPtr(): unknown; restore(p: unknown): void }
  peekPtr(p: number): unknown
  peek32(p: number): unknown
  poke32(p: number, v: number): unknown
  allocFromTypedArray(a: Uint8Array): unknown
  dealloc(p: number): void
  installFunction(signature: string, fn: (...args: never[]) => number): unknown
}

/** What one recorded write produced: an SQLite changeset and the tables it touched. */
export interface RecordedChanges {
  /** null: nothing changed; undefined: only the tables were recorded (see `recordTables`). */
  readonly changeset: Uint8Array | null | undefined
  readonly tables: ReadonlySet<string>
}

const SQLITE_SESSION_OBJCONFIG_ROWID = 2
const SQLITE_CHANGESET_ABORT = 2
const EMPTY_SET: ReadonlySet<string> = new Set()

/** Runs `fn` while the session extension records every row it changes (see `SqliteDb.recordChanges`). */
export function recordChangeset(db: SessionTarget, out: number, mainName: number, fn: () => void): RecordedChanges {
  const w = db.w
  const wasm = db.wasm
  let pSession = 0
  try {
    check(w.sqlite3session_create(db.dbPointer, mainName, out), 'sqlite3session_create')
    pSession = wasm.peekPtr(out) as number
    wasm.poke32(out + 8, 1)
    check(w.sqlite3session_object_config(pSession, SQLITE_SESSION_OBJCONFIG_ROWID, out + 8), 'session rowid config')
    check(w.sqlite3session_attach(pSession, 0), 'sqlite3session_attach')
    fn()
    check(w.sqlite3session_changeset(pSession, out + 8, out), 'sqlite3session_changeset')
    const n = wasm.peek32(out + 8) as number
    const p = wasm.peekPtr(out) as number
    if (n === 0) {
      if (p) w.sqlite3_free(p)
      return { changeset: null, tables: EMPTY_SET }
    }
    const changeset = db.heap().slice(p, p + n)
    w.sqlite3_free(p)
    const tables = changesetTableNames(changeset)
    return { changeset, tables }
  } finally {
    if (pSession) w.sqlite3session_delete(pSession)
  }
}

/** Undoes changesets with SQLite's own apply of their inverse; throws on a conflict. */
export function revertWithSessionApply(db: SessionTarget, changesets: readonly Uint8Array[]): ReadonlySet<string> {
  if (changesets.length === 0) return new Set()
  const all = changesets.length === 1 ? changesets[0]! : combineChangesets(db, changesets)
  const wasm = db.wasm
  const w = db.w
  const stack = wasm.pstack
  const sp = stack.pointer
  let pAll = 0
  let pInv = 0
  try {
    const pn = stack.alloc(4) as number
    const pp = stack.allocPtr() as number
    pAll = wasm.allocFromTypedArray(all) as number
    check(w.sqlite3changeset_invert(all.byteLength, pAll, pn, pp), 'sqlite3changeset_invert')
    const n = wasm.peek32(pn) as number
    pInv = wasm.peekPtr(pp) as number
    const tables = changesetTableNames(db.heap().subarray(pInv, pInv + n))
    const rc = w.sqlite3changeset_apply(db.dbPointer, n, pInv, 0, abortOnConflict(db), 0)
    if (conflicted || rc !== 0) {
      throw new SqliteError(`Reverting a changeset conflicted with the current state (sqlite code ${rc})`, rc)
    }
    return tables
  } finally {
    if (pAll) wasm.dealloc(pAll)
    if (pInv) w.sqlite3_free(pInv)
    stack.restore(sp)
  }
}

let conflictHandler = 0
let conflicted = false

// The conflict callback lives in the wasm function table once per process: passing a JS
// function to the wrapped sqlite3changeset_apply compiles and installs a new wasm thunk on every
// call, which cost more than the rest of a small rebase. Applies run synchronously, one at a
// time, so one flag serves every database.
function abortOnConflict(db: SessionTarget): number {
  if (conflictHandler === 0) {
    conflictHandler = db.wasm.installFunction('i(pip)', () => {
      conflicted = true
      return SQLITE_CHANGESET_ABORT
    }) as number
  }
  conflicted = false
  return conflictHandler
}

/** Several changesets recorded one after another, as one (each row's net change). */
export function combineChangesets(db: SessionTarget, changesets: readonly Uint8Array[]): Uint8Array {
  const wasm = db.wasm
  const w = db.w
  const stack = wasm.pstack
  const sp = stack.pointer
  const inputs: number[] = []
  let pGroup = 0
  let pAll = 0
  try {
    const pn = stack.alloc(4) as number
    const pp = stack.allocPtr() as number
    check(w.sqlite3changegroup_new(pp), 'sqlite3changegroup_new')
    pGroup = wasm.peekPtr(pp) as number
    for (const c of changesets) {
      const p = wasm.allocFromTypedArray(c) as number
      inputs.push(p)
      check(w.sqlite3changegroup_add(pGroup, c.byteLength, p), 'sqlite3changegroup_add')
    }
    check(w.sqlite3changegroup_output(pGroup, pn, pp), 'sqlite3changegroup_output')
    const n = wasm.peek32(pn) as number
    pAll = wasm.peekPtr(pp) as number
    return db.heap().slice(pAll, pAll + n)
  } finally {
    for (const p of inputs) wasm.dealloc(p)
    if (pAll) w.sqlite3_free(pAll)
    if (pGroup) w.sqlite3changegroup_delete(pGroup)
    stack.restore(sp)
  }
}

/** Applies changesets on a database that holds the state they were recorded on (see `SqliteDb.applyChangesets`). */
export function applyChangesets(db: SessionTarget, changesets: readonly Uint8Array[]): boolean {
  if (changesets.length === 0) return true
  const all = changesets.length === 1 ? changesets[0]! : combineChangesets(db, changesets)
  const wasm = db.wasm
  const p = wasm.allocFromTypedArray(all) as number
  try {
    // SQLite applies all or nothing: on ABORT it rolls back its own savepoint
    const rc = db.w.sqlite3changeset_apply(db.dbPointer, all.byteLength, p, 0, abortOnConflict(db), 0)
    if (conflicted) return false
    if (rc !== 0) throw new SqliteError(`Applying a changeset failed (sqlite code ${rc})`, rc)
    return true
  } finally {
    wasm.dealloc(p)
  }
}
