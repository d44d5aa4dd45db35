// Undoes a changeset with ordinary statements instead of sqlite3changeset_apply. The session
// extension's apply runs `PRAGMA defer_foreign_keys` around its work, and a flag pragma expires
// every prepared statement of the connection: after each rebase, every subscribed query and
// materializer statement was compiled again on its next run. Here the inverse runs through the
// database's statement cache, so nothing is recompiled.
//
// Semantics follow sqlite3changeset_apply with a conflict handler that aborts: a row that is
// not exactly as the changeset left it is a conflict, and the caller rolls everything back. A
// restored row that hits a constraint is retried after the others (a UNIQUE value may be free
// only once another row got its old value back), as SQLite does.
//
// Format: see changeset-reader.ts. Values: 0 absent, 1 integer (8 bytes, big-endian, signed), 2 real
// (8 bytes IEEE, big-endian), 3 text and 4 blob (varint length, bytes), 5 null.

import { SqliteError } from './sqlite-error.ts'

/** A real number that must be bound as one (SQLite keeps 1.0 and 1 apart in untyped columns). */
export class SqlReal {
  constructor(readonly value: number) {}
}
export type RevertValue = string | number | bigint | Uint8Array | SqlReal | null

/** What the revert needs from the database. */
export interface RevertTarget {
  /** Runs a write; returns the number of rows it changed. Throws SqliteError. */
  run(sql: string, values: readonly RevertValue[]): number
  /** Column names of a table, in table order. */
  columnsOf(table: string): readonly string[]
}

const TABLE = 0x54
const INSERT = 18
const DELETE = 9
const UPDATE = 23
const ABSENT = Symbol('absent')
type Value = RevertValue | typeof ABSENT
const decoder = new TextDecoder()

interface Change {
  readonly table: string
  readonly columns: readonly string[]
  readonly pk: readonly boolean[]
  readonly op: number
  readonly old: readonly Value[] | undefined
  readonly new: readonly Value[] | undefined
}

/** Applies the inverse of `bytes` (newest change first). Returns the tables touched. */
export function revertChangeset(target: RevertTarget, bytes: Uint8Array): Set<string> {
  const changes = parse(target, bytes)
  const tables = new Set<string>()
  let retry: Change[] = []
  for (let i = changes.length - 1; i >= 0; i--) {
    const change = changes[i]!
    tables.add(change.table)
    if (!undo(target, change)) retry.push(change)
  }
  // restored rows refused by a constraint: try again while some succeed
  while (retry.length > 0) {
    const next: Change[] = []
    for (const change of retry) if (!undo(target, change)) next.push(change)
    if (next.length === retry.length) {
      const c = next[0]!
      throw new SqliteError(`Reverting a changeset conflicted with the current state: a row of "${c.table}" could not be restored`, 19)
    }
    retry = next
  }
  return tables
}

/** Returns false when a restored row hit a constraint (to be retried); throws on a conflict. */
function undo(target: RevertTarget, c: Change): boolean {
  const t = quote(c.table)
  if (c.op === INSERT) {
    // the row must still be exactly as inserted
    const sql = statement(c, 'delete', () => `DELETE FROM ${t} WHERE ${c.columns.map((col) => `${quote(col)} IS ?`).join(' AND ')}`)
    if (target.run(sql, c.new!.map(present)) !== 1) throw conflict(c)
    return true
  }
  if (c.op === DELETE) {
    const sql = statement(
      c,
      'insert',
      () => `INSERT INTO ${t} (${c.columns.map(quote).join(', ')}) VALUES (${c.columns.map(() => '?').join(', ')})`,
    )
    try {
      target.run(sql, c.old!.map(present))
    } catch (e) {
      if (e instanceof SqliteError && (e.resultCode & 0xff) === 19) return false
      throw e
    }
    return true
  }
  // UPDATE: put the old values of the changed columns back where the row holds the new ones
  const set: string[] = []
  const where: string[] = []
  const setValues: RevertValue[] = []
  const whereValues: RevertValue[] = []
  for (let i = 0; i < c.columns.length; i++) {
    const col = quote(c.columns[i]!)
    const before = c.old![i]!
    const after = c.new![i]!
    if (c.pk[i]) {
      where.push(`${col} IS ?`)
      whereValues.push(present(before))
    } else if (after !== ABSENT) {
      set.push(`${col} = ?`)
      setValues.push(present(before))
      where.push(`${col} IS ?`)
      whereValues.push(after)
    }
  }
  if (set.length === 0) return true
  try {
    if (target.run(`UPDATE ${t} SET ${set.join(', ')} WHERE ${where.join(' AND ')}`, [...setValues, ...whereValues]) !== 1)
      throw conflict(c)
  } catch (e) {
    if (e instanceof SqliteError && (e.resultCode & 0xff) === 19) return false
    throw e
  }
  return true
}

// Statement texts per table shape: a rebase of thousands of rows builds each text once.
const statements = new WeakMap<readonly string[], Map<string, string>>()
function statement(c: Change, key: string, build: () => string): string {
  let byKey = statements.get(c.columns)
  if (byKey === undefined) statements.set(c.columns, (byKey = new Map()))
  let sql = byKey.get(key)
  if (sql === undefined) byKey.set(key, (sql = build()))
  return sql
}

function parse(target: RevertTarget, bytes: Uint8Array): Change[] {
  const changes: Change[] = []
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const n = bytes.length
  let i = 0
  let table = ''
  let columns: readonly string[] = []
  let pk: boolean[] = []

  const varint = (): number => {
    let v = 0
    for (let k = 0; k < 9; k++) {
      if (i >= n) throw corrupt()
      const b = bytes[i++]!
      if (k === 8) return v * 256 + b
      v = v * 128 + (b & 0x7f)
      if ((b & 0x80) === 0) return v
    }
    return v
  }
  const record = (): Value[] => {
    const values: Value[] = new Array(columns.length)
    for (let c = 0; c < columns.length; c++) {
      if (i >= n) throw corrupt()
      const type = bytes[i++]!
      if (type === 0) values[c] = ABSENT
      else if (type === 5) values[c] = null
      else if (type === 1) {
        if (i + 8 > n) throw corrupt()
        const big = view.getBigInt64(i)
        i += 8
        values[c] = big >= -9007199254740991n && big <= 9007199254740991n ? Number(big) : big
      } else if (type === 2) {
        if (i + 8 > n) throw corrupt()
        values[c] = new SqlReal(view.getFloat64(i))
        i += 8
      } else if (type === 3 || type === 4) {
        const len = varint()
        if (i + len > n) throw corrupt()
        values[c] = type === 3 ? decoder.decode(bytes.subarray(i, i + len)) : bytes.slice(i, i + len)
        i += len
      } else throw corrupt()
    }
    return values
  }

  while (i < n) {
    const op = bytes[i]!
    if (op === TABLE) {
      i++
      const nCol = varint()
      const flags = bytes.subarray(i, i + nCol)
      i += nCol
      const end = bytes.indexOf(0, i)
      if (end < 0) throw corrupt()
      table = decoder.decode(bytes.subarray(i, end))
      i = end + 1
      const names = target.columnsOf(table)
      // a table without a primary key is recorded by rowid, as an extra first column
      if (nCol === names.length + 1) columns = ['_rowid_', ...names]
      else if (nCol === names.length) columns = names
      else throw new SqliteError(`The changeset does not match table "${table}" (${nCol} columns recorded, ${names.length} now)`, 1)
      pk = Array.from(flags, (f) => f !== 0)
      continue
    }
    if (op !== INSERT && op !== DELETE && op !== UPDATE) throw corrupt()
    i += 2
    const first = record()
    const second = op === UPDATE ? record() : undefined
    changes.push({
      table,
      columns,
      pk,
      op,
      old: op === INSERT ? undefined : first,
      new: op === INSERT ? first : second,
    })
  }
  return changes
}

function present(v: Value): RevertValue {
  if (v === ABSENT) throw corrupt()
  return v
}
function quote(id: string): string {
  return `"${id.replaceAll('"', '""')}"`
}
function conflict(c: Change): SqliteError {
  return new SqliteError(`Reverting a changeset conflicted with the current state: a row of "${c.table}" was changed since`, 19)
}
function corrupt(): SqliteError {
  return new SqliteError('The changeset is corrupt or truncated', 11)
}
