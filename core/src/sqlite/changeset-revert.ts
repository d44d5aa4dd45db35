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

import { ABSENT, ChangesetReader, DELETE, INSERT, UPDATE, type ChangesetValue, type RevertValue } from './changeset-reader.ts'
import { SqliteError } from './sqlite-error.ts'
import { quoteId } from './sql.ts'

/** What the revert needs from the database. */
export interface RevertTarget {
  /** Runs a write; returns the number of rows it changed. Throws SqliteError. */
  run(sql: string, values: readonly RevertValue[]): number
  /** Column names of a table, in table order. */
  columnsOf(table: string): readonly string[]
}

interface Change {
  readonly table: string
  readonly columns: readonly string[]
  readonly pk: readonly boolean[]
  readonly op: number
  readonly old: readonly ChangesetValue[] | undefined
  readonly new: readonly ChangesetValue[] | undefined
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
  const t = quoteId(c.table)
  if (c.op === INSERT) {
    // the row must still be exactly as inserted
    const sql = statement(c, 'delete', () => `DELETE FROM ${t} WHERE ${c.columns.map((col) => `${quoteId(col)} IS ?`).join(' AND ')}`)
    if (target.run(sql, c.new!.map(present)) !== 1) throw conflict(c)
    return true
  }
  if (c.op === DELETE) {
    const sql = statement(
      c,
      'insert',
      () => `INSERT INTO ${t} (${c.columns.map(quoteId).join(', ')}) VALUES (${c.columns.map(() => '?').join(', ')})`,
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
    const col = quoteId(c.columns[i]!)
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
  const reader = new ChangesetReader(bytes)
  let table = ''
  let columns: readonly string[] = []
  let pk: boolean[] = []
  while (!reader.done) {
    if (reader.atTable) {
      const header = reader.table()
      table = header.name
      const nCol = header.pk.length
      const names = target.columnsOf(table)
      // a table without a primary key is recorded by rowid, as an extra first column
      if (nCol === names.length + 1) columns = ['_rowid_', ...names]
      else if (nCol === names.length) columns = names
      else throw new SqliteError(`The changeset does not match table "${table}" (${nCol} columns recorded, ${names.length} now)`, 1)
      pk = Array.from(header.pk, (f) => f !== 0)
      continue
    }
    const op = reader.op()
    const first = reader.record()
    const second = op === UPDATE ? reader.record() : undefined
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

function present(v: ChangesetValue): RevertValue {
  if (v === ABSENT) throw new SqliteError('The changeset is corrupt: a value it needs is absent', 11)
  return v
}
function conflict(c: Change): SqliteError {
  return new SqliteError(`Reverting a changeset conflicted with the current state: a row of "${c.table}" was changed since`, 19)
}
