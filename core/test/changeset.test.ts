import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { changesetTableNames } from '../src/sqlite/changeset-reader.ts'
import { SqliteDb } from '../src/sqlite/db.ts'

const DDL = `
  CREATE TABLE plain (id TEXT PRIMARY KEY, n INTEGER, r REAL, b BLOB);
  CREATE TABLE "composite ✓" (a TEXT, b INTEGER, v TEXT, PRIMARY KEY (a, b));
  CREATE TABLE nopk (x TEXT, y INTEGER);
  CREATE TABLE wide (id INTEGER PRIMARY KEY, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20, c21, c22, c23, c24, c25, c26, c27, c28, c29, c30, c31, c32, c33, c34, c35, c36, c37, c38, c39, c40, c41, c42, c43, c44, c45, c46, c47, c48, c49, c50, c51, c52, c53, c54, c55, c56, c57, c58, c59, c60, c61, c62, c63, c64, c65, c66, c67, c68, c69, c70, c71, c72, c73, c74, c75, c76, c77, c78, c79, c80, c81, c82, c83, c84, c85, c86, c87, c88, c89, c90, c91, c92, c93, c94, c95, c96, c97, c98, c99, c100, c101, c102, c103, c104, c105, c106, c107, c108, c109, c110, c111, c112, c113, c114, c115, c116, c117, c118, c119, c120, c121, c122, c123, c124, c125, c126, c127, c128, c129, c130);
`
const value = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.constant(null),
  fc.uint8Array({ maxLength: 20_000 }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
)
type Op =
  | { kind: 'plain'; id: string; n: unknown; b: unknown }
  | { kind: 'composite'; a: string; b: number; v: unknown }
  | { kind: 'nopk'; x: unknown }
  | { kind: 'wide'; id: number; v: unknown }
  | { kind: 'deletePlain'; id: string }
  | { kind: 'updateNopk'; y: number }
const id = fc.constantFrom('a', 'b', 'c', 'ü-ñ', 'x'.repeat(200))
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('plain' as const), id, n: value, b: value }),
  fc.record({ kind: fc.constant('composite' as const), a: id, b: fc.integer({ min: -3, max: 3 }), v: value }),
  fc.record({ kind: fc.constant('nopk' as const), x: value }),
  fc.record({ kind: fc.constant('wide' as const), id: fc.integer({ min: 1, max: 3 }), v: value }),
  fc.record({ kind: fc.constant('deletePlain' as const), id }),
  fc.record({ kind: fc.constant('updateNopk' as const), y: fc.integer({ min: 0, max: 3 }) }),
)

function run(db: SqliteDb, o: Op): void {
  const bind = (v: unknown) => v as never
  switch (o.kind) {
    case 'plain':
      db.run('INSERT INTO plain (id, n, b) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET n = excluded.n, b = excluded.b', [
        o.id,
        bind(o.n),
        bind(o.b),
      ])
      return
    case 'composite':
      db.run('INSERT OR REPLACE INTO "composite ✓" (a, b, v) VALUES (?, ?, ?)', [o.a, o.b, bind(o.v)])
      return
    case 'nopk':
      db.run('INSERT INTO nopk (x, y) VALUES (?, 0)', [bind(o.x)])
      return
    case 'wide':
      db.run('INSERT OR REPLACE INTO wide (id, c130) VALUES (?, ?)', [o.id, bind(o.v)])
      return
    case 'deletePlain':
      db.run('DELETE FROM plain WHERE id = ?', [o.id])
      return
    case 'updateNopk':
      db.run('UPDATE nopk SET y = y + 1 WHERE y = ?', [o.y])
  }
}

describe('changesetTableNames', () => {
  it('names exactly the tables whose rows a commit changed, for any values and table shapes', async () => {
    const db = await SqliteDb.open()
    db.exec(DDL)
    const names = ['plain', 'composite ✓', 'nopk', 'wide']
    const count = () =>
      names.map((t) =>
        JSON.stringify(db.select(`SELECT * FROM "${t}" ORDER BY 1`), (_, v) =>
          typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? [...v] : v,
        ),
      )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12 }), (ops) => {
        const before = count()
        const recorded = db.recordChanges(() => ops.forEach((o) => run(db, o)))
        const after = count()
        const changed = names.filter((_, k) => before[k] !== after[k])
        expect([...recorded.tables].sort()).toEqual(changed.sort())
        if (recorded.changeset) expect([...changesetTableNames(recorded.changeset)].sort()).toEqual(changed.sort())
      }),
      { numRuns: 300, seed: 7 },
    )
  })

  it('refuses bytes that are not a changeset instead of guessing', () => {
    expect(() => changesetTableNames(Uint8Array.from([18, 0, 1]))).toThrow(/before any table header/)
    // header for a 1-column table "t", then an INSERT whose text value is cut short
    expect(() => changesetTableNames(Uint8Array.from([0x54, 1, 1, 116, 0, 18, 0, 3, 10, 65]))).toThrow(/ends in the middle/)
    expect(() => changesetTableNames(Uint8Array.from([0x54, 1, 1, 116, 0, 18, 0, 9]))).toThrow(/unexpected value type/)
    expect(changesetTableNames(new Uint8Array(0))).toEqual(new Set())
  })
})
