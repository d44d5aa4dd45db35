import { describe, expect, it } from 'vitest'
import { insertChunk, insertRunLength } from '../src/sqlite/insert-runs.ts'
import { RecordedWrites } from '../src/sqlite/recorded-writes.ts'
import { SqliteDb } from '../src/sqlite/db.ts'

const ONE = 'INSERT INTO "t" ("id", "n") VALUES (?, ?)'

describe('insertRunLength', () => {
  it('counts a run of the same plain one-row insert', () => {
    expect(insertRunLength([ONE, ONE, ONE, 'DELETE FROM "t"', ONE], 0)).toBe(3)
    expect(insertRunLength([ONE, ONE, ONE, 'DELETE FROM "t"', ONE], 4)).toBe(1)
    expect(insertRunLength([ONE, ONE], 1)).toBe(1)
  })

  it('leaves every other statement alone, even in a run', () => {
    for (const sql of [
      `${ONE} ON CONFLICT ("id") DO NOTHING`,
      `${ONE} RETURNING "id"`,
      'INSERT OR REPLACE INTO "t" ("id", "n") VALUES (?, ?)',
      'INSERT INTO "t" ("id", "n") VALUES (?, 1)',
      'INSERT INTO "t" ("id", "n") SELECT ?, ?',
      'INSERT INTO t (id, n) VALUES (?, ?)',
      'UPDATE "t" SET "n" = ?',
    ])
      expect(insertRunLength([sql, sql, sql], 0)).toBe(1)
  })
})

describe('insertChunk', () => {
  it('takes the largest chunk that fits, down to single rows', () => {
    expect(insertChunk(ONE, 200).rows).toBe(64)
    expect(insertChunk(ONE, 63).rows).toBe(16)
    expect(insertChunk(ONE, 5).rows).toBe(4)
    expect(insertChunk(ONE, 3)).toEqual({ rows: 1, sql: ONE })
    expect(insertChunk(ONE, 4).sql).toBe('INSERT INTO "t" ("id", "n") VALUES (?, ?), (?, ?), (?, ?), (?, ?)')
  })

  it('stays under SQLite’s limit of bind parameters for wide tables', () => {
    const cols = Array.from({ length: 1000 }, (_, i) => `"c${i}"`).join(', ')
    const wide = `INSERT INTO "w" (${cols}) VALUES (${Array.from({ length: 1000 }, () => '?').join(', ')})`
    expect(insertChunk(wide, 100).rows).toBe(16) // 64 rows would need 64,000 parameters
  })
})

describe('SqliteDb.replayWrites', () => {
  const open = async () => {
    const db = await SqliteDb.open()
    db.exec('CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL); CREATE TABLE seen (k INTEGER PRIMARY KEY, id TEXT, rows INTEGER)')
    // a row trigger that reads the table: it must see the rows one by one, as single inserts do
    db.exec(`CREATE TRIGGER t_seen AFTER INSERT ON t BEGIN INSERT INTO seen (id, rows) VALUES (new.id, (SELECT count(*) FROM t)); END`)
    return db
  }
  const writesOf = (rows: readonly (readonly [string, number])[], sql = ONE) => {
    const w = new RecordedWrites()
    for (const r of rows) w.push(sql, r, true)
    return w
  }
  const state = (db: SqliteDb) => [db.select('SELECT rowid, id, n FROM t ORDER BY rowid'), db.select('SELECT * FROM seen ORDER BY k')]

  it('gives the same state, rowids and trigger effects as running each insert alone', async () => {
    const rows = Array.from({ length: 150 }, (_, i) => [`r${(i * 37) % 150}`, i] as const)
    const batched = await open()
    batched.transaction(() => batched.replayWrites(writesOf(rows)))
    const single = await open()
    // a trailing space makes the same statement one that is not coalesced
    single.transaction(() => single.replayWrites(writesOf(rows, `${ONE} `)))
    expect(state(batched)).toEqual(state(single))
    expect(batched.select('SELECT count(*) AS n FROM t')).toEqual([{ n: 150 }])
  })

  it('records what it replays one write per row, for a caller that records', async () => {
    const db = await open()
    const rows = Array.from({ length: 70 }, (_, i) => [`r${i}`, i] as const)
    const { writes } = db.recordWrites(() => db.replayWrites(writesOf(rows)))
    expect(writes.length).toBe(70)
    expect(writes.binds[69]).toEqual(['r69', 69])
  })

  it('fails as a whole on a constraint in the middle of a chunk, leaving nothing in the transaction', async () => {
    const db = await open()
    db.run(`INSERT INTO t (id, n) VALUES ('r40', 0)`)
    const rows = Array.from({ length: 100 }, (_, i) => [`r${i}`, i] as const)
    expect(() => db.transaction(() => db.replayWrites(writesOf(rows)))).toThrow(/UNIQUE constraint failed: t.id/)
    expect(db.select('SELECT id FROM t')).toEqual([{ id: 'r40' }])
  })
})
