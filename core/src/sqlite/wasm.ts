// The low-level side of db.ts: the wasm exports it calls directly and small helpers that need no
// database.

import { SqliteError } from './sqlite-error.ts'

const decoder = new TextDecoder()

export interface RawExports {
  sqlite3_step(p: number): number
  sqlite3_reset(p: number): number
  sqlite3_clear_bindings(p: number): number
  sqlite3_changes(db: number): number
  sqlite3_bind_parameter_count(p: number): number
  sqlite3_stmt_readonly(p: number): number
  sqlite3_bind_null(p: number, i: number): number
  sqlite3_bind_int(p: number, i: number, v: number): number
  sqlite3_bind_int64(p: number, i: number, v: bigint): number
  sqlite3_bind_double(p: number, i: number, v: number): number
  sqlite3_bind_text(p: number, i: number, ptr: number, n: number, destructor: number): number
  sqlite3_bind_blob(p: number, i: number, ptr: number, n: number, destructor: number): number
  sqlite3_column_type(p: number, i: number): number
  sqlite3_column_double(p: number, i: number): number
  sqlite3_column_int64(p: number, i: number): bigint
  sqlite3_column_text(p: number, i: number): number
  sqlite3_column_blob(p: number, i: number): number
  sqlite3_column_bytes(p: number, i: number): number
  sqlite3session_create(db: number, zDb: number, ppSession: number): number
  sqlite3session_object_config(p: number, op: number, pArg: number): number
  sqlite3session_attach(p: number, zTab: number): number
  sqlite3session_changeset(p: number, pn: number, pp: number): number
  sqlite3session_delete(p: number): void
  sqlite3changeset_start(pp: number, n: number, p: number): number
  sqlite3changeset_next(p: number): number
  sqlite3changeset_op(p: number, pzTab: number, pnCol: number, pOp: number, pbIndirect: number): number
  sqlite3changeset_finalize(p: number): number
  sqlite3changeset_invert(n: number, p: number, pnOut: number, ppOut: number): number
  sqlite3changeset_apply(db: number, n: number, p: number, xFilter: number, xConflict: number, pCtx: number): number
  sqlite3changegroup_new(pp: number): number
  sqlite3changegroup_add(pGroup: number, n: number, p: number): number
  sqlite3changegroup_output(pGroup: number, pn: number, pp: number): number
  sqlite3changegroup_delete(pGroup: number): void
  sqlite3_malloc(n: number): number
  sqlite3_update_hook(db: number, fn: number, arg: number): number
  sqlite3_set_authorizer(db: number, fn: number, arg: number): number
  sqlite3_free(p: number): void
}

/**
 * UTF-8 to string; short ASCII runs are decoded by hand, which beats TextDecoder's call cost:
 * eight characters per `String.fromCharCode` call (a string per character made a 36-character
 * event id cost ~230 ns against ~90 ns, and garbage for the collector).
 */
export function decodeUtf8(heap: Uint8Array, ptr: number, n: number): string {
  if (n >= 48) return decoder.decode(heap.subarray(ptr, ptr + n))
  let s = ''
  let i = 0
  for (const whole = n - 7; i < whole; i += 8) {
    const p = ptr + i
    const a = heap[p]!
    const b = heap[p + 1]!
    const c = heap[p + 2]!
    const d = heap[p + 3]!
    const e = heap[p + 4]!
    const f = heap[p + 5]!
    const g = heap[p + 6]!
    const h = heap[p + 7]!
    if ((a | b | c | d | e | f | g | h) > 127) return decoder.decode(heap.subarray(ptr, ptr + n))
    s += String.fromCharCode(a, b, c, d, e, f, g, h)
  }
  for (; i < n; i++) {
    const c = heap[ptr + i]!
    if (c > 127) return decoder.decode(heap.subarray(ptr, ptr + n))
    s += String.fromCharCode(c)
  }
  return s
}

/**
 * The update hook as a wasm function passing only the table name on to `onTable`: a JS function
 * installed with the hook's C signature gets the rowid as a BigInt, an allocation and a slow
 * conversion per changed row. Undefined where wasm cannot be compiled here (the JS function is
 * used then).
 */
export function updateHookThunk(onTable: (zTable: number) => void): WebAssembly.ExportValue | undefined {
  // (module (import "e" "f" (func (param i32)))
  //   (func (export "h") (param i32 i32 i32 i32 i64) (call 0 (local.get 3))))
  // prettier-ignore
  const bytes = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x0d, 0x02, 0x60, 0x01, 0x7f, 0x00, 0x60, 0x05, 0x7f, 0x7f, 0x7f, 0x7f, 0x7e, 0x00, // types
    0x02, 0x07, 0x01, 0x01, 0x65, 0x01, 0x66, 0x00, 0x00, // import e.f: type 0
    0x03, 0x02, 0x01, 0x01, // one function of type 1
    0x07, 0x05, 0x01, 0x01, 0x68, 0x00, 0x01, // export h: function 1
    0x0a, 0x08, 0x01, 0x06, 0x00, 0x20, 0x03, 0x10, 0x00, 0x0b, // body: local.get 3, call 0
  ])
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { e: { f: onTable } })
    return instance.exports.h
  } catch {
    return undefined
  }
}

export function check(rc: number, what: string): void {
  if (rc !== 0) throw new SqliteError(`${what} failed (sqlite code ${rc})`, rc)
}

export function toSqliteError(e: unknown): SqliteError {
  if (e instanceof SqliteError) return e
  const err = e as { message?: string; resultCode?: number }
  const message = String(err.message ?? e).replace(/^SQLITE_\w+: sqlite3 result code \d+: /, '')
  return new SqliteError(message, typeof err.resultCode === 'number' ? err.resultCode : 1, { cause: e })
}
