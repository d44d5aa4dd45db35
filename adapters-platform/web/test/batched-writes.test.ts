// The write batching runs over any VFS; here over sqlite-wasm's `unix` VFS (files in the wasm
// module's memory file system under Node), which the Chromium tests cannot count calls on.
import { loadSqlite, SqliteDb } from '@cairn/core'
import { beforeAll, describe, expect, it } from 'vitest'
import { batchWrites, fileControlFlushes, opfsCalls } from '../src/batched-writes.ts'

let n = 0
async function openDb(filename: string, wal = true): Promise<SqliteDb> {
  const db = await SqliteDb.open({ filename, vfs: 'unix' })
  db.exec(`PRAGMA locking_mode = EXCLUSIVE; ${wal ? 'PRAGMA journal_mode = WAL;' : ''} PRAGMA synchronous = NORMAL`)
  return db
}

function writes(fn: () => void): number {
  const before = opfsCalls.writes
  fn()
  return opfsCalls.writes - before
}

const fresh = () => `/batched-${++n}.db`

describe('batchWrites', () => {
  beforeAll(async () => {
    batchWrites(await loadSqlite(), 'unix', { maxGathered: 64 * 1024 })
  })

  it('writes a one-row commit to the WAL in one call, and the row is there after a reopen', async () => {
    const file = fresh()
    const db = await openDb(file)
    db.exec('CREATE TABLE todos (id TEXT PRIMARY KEY, text TEXT NOT NULL); CREATE INDEX todos_text ON todos (text)')
    // three pages change (the table, its primary key, the index): six writes without batching
    expect(writes(() => db.run('INSERT INTO todos VALUES (?, ?)', ['a', 'one']))).toBe(1)
    expect(writes(() => db.transaction(() => [1, 2, 3].forEach((i) => db.run('INSERT INTO todos VALUES (?, ?)', [`b${i}`, 'x']))))).toBe(1)
    db.close()
    const again = await openDb(file)
    expect(again.select('SELECT id FROM todos ORDER BY id').map((r) => r.id)).toEqual(['a', 'b1', 'b2', 'b3'])
    again.close()
    // each commit went out at its commit frame, none at the transaction's end (the safety net)
    expect(fileControlFlushes).toBe(0)
  })

  it('keeps the file whole across checkpoints: every row back, integrity_check ok', async () => {
    const file = fresh()
    const db = await openDb(file)
    db.exec('PRAGMA wal_autocheckpoint = 20; CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)')
    const total = writes(() => {
      for (let i = 0; i < 300; i++) db.run('INSERT INTO t (v) VALUES (?)', [`row ${i} ${'x'.repeat(i % 200)}`])
      db.run('UPDATE t SET v = v || ? WHERE k % 7 = 0', ['!'])
      db.run('DELETE FROM t WHERE k % 11 = 0')
    })
    // one per commit, plus the checkpoints' runs of database pages
    expect(total).toBeLessThan(302 * 2)
    const expected = db.select('SELECT count(*) AS n, sum(length(v)) AS len FROM t')[0]
    db.close()
    const again = await openDb(file)
    expect(again.select('PRAGMA integrity_check')[0]?.integrity_check).toBe('ok')
    expect(again.select('SELECT count(*) AS n, sum(length(v)) AS len FROM t')[0]).toEqual(expected)
    again.close()
  })

  it('writes out a transaction larger than what it gathers in parts, and reads it back', async () => {
    const file = fresh()
    const db = await openDb(file)
    db.exec('CREATE TABLE blobs (k INTEGER PRIMARY KEY, v BLOB)')
    const count = writes(() =>
      db.transaction(() => {
        for (let i = 0; i < 12; i++) db.run('INSERT INTO blobs (v) VALUES (randomblob(?))', [512 * 1024])
      }),
    )
    expect(count).toBeGreaterThan(1)
    db.close()
    const again = await openDb(file)
    expect(again.select('SELECT count(*) AS n, sum(length(v)) AS bytes FROM blobs')[0]).toEqual({ n: 12, bytes: 12 * 512 * 1024 })
    expect(again.select('PRAGMA integrity_check')[0]?.integrity_check).toBe('ok')
    again.close()
  })

  it('works in rollback-journal mode (a file before it switches to WAL)', async () => {
    const file = fresh()
    const db = await openDb(file, false)
    db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)')
    for (let i = 0; i < 50; i++) db.run('INSERT INTO t (v) VALUES (?)', [`v${i}`])
    db.transaction(() => {
      db.run('UPDATE t SET v = ?', ['changed'])
      db.run('DELETE FROM t WHERE k > 40')
    })
    db.close()
    const again = await openDb(file, false)
    expect(again.select('SELECT count(*) AS n, min(v) AS v FROM t')[0]).toEqual({ n: 40, v: 'changed' })
    expect(again.select('PRAGMA integrity_check')[0]?.integrity_check).toBe('ok')
    again.close()
  })

  it('answers the file size from what it wrote, without asking the file again', async () => {
    const db = await openDb(fresh())
    db.exec('CREATE TABLE t (v TEXT)')
    const before = opfsCalls.sizes
    for (let i = 0; i < 20; i++) db.run('INSERT INTO t VALUES (?)', ['x'.repeat(3000)])
    expect(opfsCalls.sizes - before).toBeLessThanOrEqual(2)
    db.close()
  })
})
