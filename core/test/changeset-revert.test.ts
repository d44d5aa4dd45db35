import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SqliteDb } from '../src/sqlite/db.ts'

// The oracle is SQLite's own inverse apply (sqlite3changeset_invert + sqlite3changeset_apply),
// which Cairn used before; our revert must leave every table exactly as it does, types included.
const DDL = `
  CREATE TABLE plain (id TEXT PRIMARY KEY, n, r REAL, b BLOB, u TEXT UNIQUE);
  CREATE TABLE comp (a TEXT, b INTEGER, v, PRIMARY KEY (b, a)) WITHOUT ROWID;
  CREATE TABLE nopk (x, y INTEGER);
  CREATE TABLE "odd ""name""" ("sp ace" INTEGER PRIMARY KEY, val);
`
const TABLES = ['plain', 'comp', 'nopk', '"odd ""name"""']
const value = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(1.0, 0.5, -0, 2 ** 60),
  fc.constant(null),
  fc.uint8Array({ maxLength: 40 }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
)
const key = fc.constantFrom('a', 'b', 'c', 'd')
const op = fc.oneof(
  fc.record({
    t: fc.constant('upsert'),
    id: key,
    n: value,
    r: fc.double({ noNaN: true, noDefaultInfinity: true }),
    b: value,
    u: fc.option(key, { nil: null }),
  }),
  fc.record({ t: fc.constant('setN'), id: key, n: value }),
  fc.record({ t: fc.constant('del'), id: key }),
  fc.record({ t: fc.constant('comp'), a: key, b: fc.integer({ min: 0, max: 2 }), v: value }),
  fc.record({ t: fc.constant('compDel'), b: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ t: fc.constant('nopk'), x: value }),
  fc.record({ t: fc.constant('nopkBump'), y: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ t: fc.constant('odd'), k: fc.integer({ min: 1, max: 3 }), val: value }),
  fc.record({ t: fc.constant('swapU') }),
  fc.record({ t: fc.constant('setReal'), id: key, x: fc.integer({ min: -3, max: 3 }) }),
)
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never

function apply(db: SqliteDb, o: Op): void {
  const v = (x: unknown) => x as never
  try {
    switch (o.t) {
      case 'upsert':
        db.run(
          'INSERT INTO plain (id, n, r, b, u) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET n = excluded.n, r = excluded.r, b = excluded.b, u = excluded.u',
          [o.id, v(o.n), o.r, v(o.b), o.u],
        )
        return
      case 'setN':
        db.run('UPDATE plain SET n = ? WHERE id = ?', [v(o.n), o.id])
        return
      case 'del':
        db.run('DELETE FROM plain WHERE id = ?', [o.id])
        return
      case 'comp':
        db.run('INSERT OR REPLACE INTO comp (a, b, v) VALUES (?, ?, ?)', [o.a, o.b, v(o.v)])
        return
      case 'compDel':
        db.run('DELETE FROM comp WHERE b = ?', [o.b])
        return
      case 'nopk':
        db.run('INSERT INTO nopk (x, y) VALUES (?, 0)', [v(o.x)])
        return
      case 'nopkBump':
        db.run('UPDATE nopk SET y = y + 1 WHERE y = ?', [o.y])
        return
      case 'odd':
        db.run('INSERT OR REPLACE INTO "odd ""name""" ("sp ace", val) VALUES (?, ?)', [o.k, v(o.val)])
        return
      case 'swapU':
        // two rows trade their UNIQUE values: undoing it needs the retry of refused rows
        db.run("UPDATE plain SET u = 'tmp' WHERE u = 'a'")
        db.run("UPDATE plain SET u = 'a' WHERE u = 'b'")
        db.run("UPDATE plain SET u = 'b' WHERE u = 'tmp'")
        return
      case 'setReal':
        // a real in an untyped column: SQLite keeps 2.0 and 2 apart there
        db.run('UPDATE plain SET n = CAST(? AS REAL) WHERE id = ?', [o.x, o.id])
    }
  } catch {
    // a UNIQUE clash in the generated history: the statement is refused and changes nothing
  }
}

function dump(db: SqliteDb): string {
  // quote() shows storage classes apart: 1 and 1.0, text and blob
  return TABLES.map((t) => {
    const cols = db.columnsOf(t.startsWith('"') ? 'odd "name"' : t).map((c) => `quote("${c.replaceAll('"', '""')}")`)
    // a table with a primary key gets its rows back under the key (a new rowid, as SQLite's apply
    // does too); a table without one is keyed by its rowid
    const rowid = t === 'nopk' ? "rowid || ',' || " : ''
    return JSON.stringify(db.selectColumn(`SELECT ${rowid}${cols.join(" || ',' || ")} AS r FROM ${t} ORDER BY r`))
  }).join('\n')
}

/** SQLite's own inverse apply, the way Cairn reverted before. */
function oracleRevert(db: SqliteDb, changesets: Uint8Array[]): void {
  const any = db as unknown as { sqlite3: any; dbPointer: number }
  const { capi, wasm } = any.sqlite3
  for (const c of [...changesets].reverse()) {
    const p = wasm.allocFromTypedArray(c)
    const pn = wasm.alloc(4)
    const pp = wasm.alloc(8)
    capi.sqlite3changeset_invert(c.byteLength, p, pn, pp)
    let conflict = false
    const rc = capi.sqlite3changeset_apply(any.dbPointer, wasm.peek32(pn), wasm.peekPtr(pp), 0, () => ((conflict = true), 2), 0)
    capi.sqlite3_free(wasm.peekPtr(pp))
    wasm.dealloc(p)
    wasm.dealloc(pn)
    wasm.dealloc(pp)
    if (conflict || rc !== 0) throw new Error('oracle conflict')
  }
}

describe('SqliteDb.revertAll (own inverse apply)', () => {
  it('leaves every table exactly as SQLite’s own inverse apply does, for any history', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { maxLength: 10 }),
        fc.array(fc.array(op, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 }),
        async (setup, commits) => {
          const base = await SqliteDb.open()
          base.exec(DDL)
          setup.forEach((o) => apply(base, o))
          const recorded = commits
            .map((ops) => base.recordChanges(() => ops.forEach((o) => apply(base, o))).changeset)
            .filter((c): c is Uint8Array => c !== null)
          const oracle = await SqliteDb.deserialize(base.serialize())
          oracleRevert(oracle, recorded)
          // one at a time, newest first, and all at once (combined), as rebases do
          const ours = await SqliteDb.deserialize(base.serialize())
          const oursCombined = await SqliteDb.deserialize(base.serialize())
          for (const c of [...recorded].reverse()) ours.revertAll([c])
          oursCombined.revertAll(recorded)
          const expected = dump(oracle)
          expect(dump(ours)).toBe(expected)
          expect(dump(oursCombined)).toBe(expected)
          ;[base, oracle, ours, oursCombined].forEach((d) => d.close())
        },
      ),
      { numRuns: 150, seed: 11 },
    )
  })

  it('refuses, changing nothing, when a row is no longer as the changeset left it', async () => {
    const db = await SqliteDb.open()
    db.exec(DDL)
    db.run("INSERT INTO plain (id, n) VALUES ('a', 1), ('b', 2)")
    const c = db.recordChanges(() => {
      db.run("UPDATE plain SET n = 10 WHERE id = 'a'")
      db.run("DELETE FROM plain WHERE id = 'b'")
      db.run("INSERT INTO nopk (x, y) VALUES ('q', 1)")
    }).changeset!
    db.run("UPDATE nopk SET x = 'changed'")
    const before = dump(db)
    expect(() => db.revertAll([c])).toThrow(/conflicted/)
    expect(dump(db)).toBe(before)
    db.run("UPDATE nopk SET x = 'q'")
    db.revertAll([c])
    expect(db.select('SELECT id, n FROM plain ORDER BY id')).toEqual([
      { id: 'a', n: 1 },
      { id: 'b', n: 2 },
    ])
  })

  it('keeps prepared statements compiled (no re-prepare after a revert)', async () => {
    const db = await SqliteDb.open()
    db.exec(DDL)
    const q = 'SELECT count(*) AS n FROM plain'
    db.select(q)
    const c = db.recordChanges(() => db.run("INSERT INTO plain (id) VALUES ('z')")).changeset!
    db.revertAll([c])
    const any = db as unknown as { sqlite3: any; prepare(sql: string): { pointer: number } }
    const reprepares = any.sqlite3.wasm.exports.sqlite3_stmt_status(any.prepare(q).pointer, 5, 0)
    expect(db.select(q)).toEqual([{ n: 0 }])
    expect(reprepares).toBe(0)
  })
})
