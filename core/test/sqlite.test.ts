import { describe, expect, it, vi } from 'vitest'
import { loadSqlite, SqliteDb } from '../src/sqlite/db.ts'
import { readSparseImage } from '../src/sqlite/file-image.ts'

describe('SqliteDb.select', () => {
  it('reads text, numbers, blobs and nulls correctly after the wasm memory has grown', async () => {
    const db = await SqliteDb.open()
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, b BLOB, f REAL)')
    db.run('INSERT INTO t VALUES (?, ?, ?, ?)', [1, 'before', new Uint8Array([1, 2, 3]), 1.5])
    expect(db.select('SELECT s FROM t')).toEqual([{ s: 'before' }])
    // a 64 MiB blob makes sqlite allocate far beyond the current heap, so the memory grows
    const big = new Uint8Array(64 * 1024 * 1024).fill(7)
    db.run('INSERT INTO t VALUES (?, ?, ?, ?)', [2, 'après ✓', big, null])
    const rows = db.select('SELECT id, s, length(b) AS n, f FROM t ORDER BY id')
    expect(rows).toEqual([
      { id: 1, s: 'before', n: 3, f: 1.5 },
      { id: 2, s: 'après ✓', n: big.byteLength, f: null },
    ])
    const [blob] = db.selectColumn('SELECT b FROM t WHERE id = 2') as Uint8Array[]
    expect(blob!.byteLength).toBe(big.byteLength)
    expect(blob![big.byteLength - 1]).toBe(7)
    expect(db.select('SELECT b FROM t WHERE id = 1')).toEqual([{ b: new Uint8Array([1, 2, 3]) }])
  })

  it('binds many text and blob values of one statement, of every size, and never mixes them up across statements', async () => {
    const db = await SqliteDb.open()
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c BLOB, d TEXT)')
    db.exec('CREATE TABLE u (id INTEGER PRIMARY KEY, a TEXT)')
    const insert = 'INSERT INTO t VALUES (?, ?, ?, ?, ?)'
    const long = 'x'.repeat(300_000) + 'ü' // grows the bind buffer in the middle of the values
    const rows = [
      [1, 'short', '', new Uint8Array([9, 8]), 'ünïcödé ✓'],
      [2, 'a', long, new Uint8Array(0), 'after the long one'],
      [3, long, 'b', new Uint8Array(100_000).fill(3), ''],
    ] as const
    for (const row of rows) {
      db.run(insert, row)
      // another statement binds in between: the next run of the first binds all its values again
      db.run('INSERT INTO u VALUES (?, ?)', [row[0], `u${row[0]}`])
    }
    db.run('INSERT INTO t (id) VALUES (?)', [4])
    const read = db.select('SELECT id, a, b, c, d FROM t ORDER BY id')
    expect(read.slice(0, 3)).toEqual(rows.map(([id, a, b, c, d]) => ({ id, a, b, c, d })))
    expect(read[3]).toEqual({ id: 4, a: null, b: null, c: null, d: null })
    expect(db.selectColumn('SELECT a FROM u ORDER BY id')).toEqual(['u1', 'u2', 'u3'])
    // a statement run without values binds none of the previous run's: its parameters are NULL
    db.run('INSERT INTO u (a) VALUES (?)', ['given'])
    db.run('INSERT INTO u (a) VALUES (?)')
    expect(db.selectColumn('SELECT a FROM u WHERE id > 3 ORDER BY id')).toEqual(['given', null])
  })

  it('keeps integers beyond 2^53 exact as bigint', async () => {
    const db = await SqliteDb.open()
    expect(db.select('SELECT 9007199254740993 AS big, 42 AS small')).toEqual([{ big: 9007199254740993n, small: 42 }])
  })

  it('binds numbers as integers (32-bit, 64-bit, -0, booleans) or reals, exactly', async () => {
    const db = await SqliteDb.open()
    const values = [
      0,
      -0,
      1,
      -1,
      2 ** 31 - 1,
      -(2 ** 31),
      2 ** 31,
      -(2 ** 31) - 1,
      2 ** 53 - 1,
      -(2 ** 53 - 1),
      1.5,
      -0.25,
      2 ** 53 + 2,
      1e300,
    ]
    const rows = values.map((v) => db.select('SELECT ? AS v, typeof(?) AS t', [v, v])[0])
    expect(rows).toEqual(values.map((v) => ({ v: Object.is(v, -0) ? 0 : v, t: Number.isSafeInteger(v) ? 'integer' : 'real' })))
    expect(db.select('SELECT ? AS a, ? AS b, typeof(?) AS t', [true, false, true] as never)).toEqual([{ a: 1, b: 0, t: 'integer' }])
  })
})

describe('text columns', () => {
  it('reads ASCII and non-ASCII text of every length right, the non-ASCII anywhere in it', async () => {
    const db = await SqliteDb.open()
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)')
    const values: string[] = []
    for (let n = 0; n <= 60; n++) {
      const ascii = Array.from({ length: n }, (_, i) => String.fromCharCode(33 + ((i * 7 + n) % 90))).join('')
      values.push(ascii)
      for (const at of [0, 7, 8, n - 1])
        if (at >= 0 && at < n) values.push(`${ascii.slice(0, at)}é${ascii.slice(at + 1)}`, `${ascii.slice(0, at)}✓${ascii.slice(at + 1)}`)
    }
    values.push('\u007f\u0080', '😀'.repeat(3))
    values.forEach((s, id) => db.run('INSERT INTO t VALUES (?, ?)', [id, s]))
    expect(db.select('SELECT s FROM t ORDER BY id').map((r) => r.s)).toEqual(values)
    expect(db.selectRows('SELECT s FROM t ORDER BY id', [], (r) => r.text(0))).toEqual(values)
  })
})

describe('SqliteDb.selectRows', () => {
  it('reads a repeated text column right whatever the previous row held: the same, other ASCII, non-ASCII, empty', async () => {
    const db = await SqliteDb.open()
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)')
    const values = [
      'a',
      'a',
      'ab',
      'ba',
      'ba',
      'é',
      'é',
      'Ã©',
      'Ã©',
      'xé',
      '',
      '',
      'v1.TodoCreated',
      'v1.TodoCreated',
      'v1.TodoCompleted',
      'a',
    ]
    values.forEach((s, id) => db.run('INSERT INTO t VALUES (?, ?)', [id, s]))
    const read = () => db.selectRows('SELECT id, s FROM t ORDER BY id', [], (r) => [r.number(0), r.repeatedText(1)] as const)
    expect(read().map(([, s]) => s)).toEqual(values)
    // a second run of the statement starts from the last row of the first
    expect(read().map(([, s]) => s)).toEqual(values)
    // and other columns of the same row are read as they are
    expect(db.selectRows('SELECT s, s || ? AS t FROM t ORDER BY id', ['!'], (r) => r.repeatedText(0) + r.repeatedText(1))).toEqual(
      values.map((s) => `${s}${s}!`),
    )
  })
})

describe('statement cache', () => {
  it('evicts the least recently used statement and keeps answering every query right', async () => {
    const db = await SqliteDb.open()
    db.exec('CREATE TABLE t (n INTEGER)')
    db.run('INSERT INTO t VALUES (1)')
    const hot = 'SELECT n FROM t'
    for (let i = 0; i < 600; i++) {
      expect(db.select(`SELECT ${i} AS v`)).toEqual([{ v: i }])
      expect(db.select(hot)).toEqual([{ n: 1 }])
    }
    const statements = (db as unknown as { statements: Map<string, unknown> }).statements
    expect(statements.size).toBeLessThanOrEqual(256)
    expect(statements.has(hot)).toBe(true) // used all along, never the oldest
    expect(statements.has('SELECT 0 AS v')).toBe(false)
  })
})

describe('SqliteDb.revertAll', () => {
  it('undoes recorded commits, and refuses (changing nothing) when the state no longer matches', async () => {
    const db = await SqliteDb.open()
    db.exec('CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER)')
    const a = db.recordChanges(() => db.run("INSERT INTO t VALUES ('a', 1)")).changeset!
    const b = db.recordChanges(() => db.run("UPDATE t SET v = 2 WHERE id = 'a'")).changeset!
    db.run("UPDATE t SET v = 3 WHERE id = 'a'") // not recorded: the undo of b no longer fits
    expect(() => db.revertAll([a, b])).toThrow(/conflicted/)
    expect(db.select('SELECT * FROM t')).toEqual([{ id: 'a', v: 3 }])
    db.run("UPDATE t SET v = 2 WHERE id = 'a'")
    // the same conflict handler serves every later revert
    for (let i = 0; i < 3; i++) {
      expect([...db.revertAll([a, b])]).toEqual(['t'])
      expect(db.select('SELECT * FROM t')).toEqual([])
      db.run("INSERT INTO t VALUES ('a', 2)")
    }
    db.close()
  })
})

describe('binding numbers', () => {
  it('keeps integers of every size and reals exact and typed', async () => {
    const db = await SqliteDb.open()
    const values = [0, -1, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 53 - 1, -(2 ** 53 - 1), 1.5, -0.25, 2 ** 60]
    for (const v of values) {
      const [row] = db.select('SELECT ? AS v, typeof(?) AS t', [v, v])
      expect(row).toEqual({ v, t: Number.isSafeInteger(v) ? 'integer' : 'real' })
    }
    expect(db.select('SELECT ? AS v', [9007199254740993n])).toEqual([{ v: 9007199254740993n }])
  })
})

describe('SqliteDb.recordTables', () => {
  it('names every table whose rows changed, also when a DELETE empties a whole table', async () => {
    const db = await SqliteDb.open()
    db.exec('CREATE TABLE a (id TEXT PRIMARY KEY, v INTEGER); CREATE TABLE b (id INTEGER PRIMARY KEY, v); CREATE TABLE c (x)')
    db.run("INSERT INTO a VALUES ('1', 1), ('2', 2)")
    db.run('INSERT INTO c VALUES (1)')
    expect([...db.recordTables(() => db.run("INSERT INTO a VALUES ('3', 3)"))]).toEqual(['a'])
    expect([...db.recordTables(() => db.run("UPDATE a SET v = 9 WHERE id = 'nope'"))]).toEqual([])
    expect([...db.recordTables(() => db.run("INSERT OR REPLACE INTO a VALUES ('1', 5)"))]).toEqual(['a'])
    expect([...db.recordTables(() => db.run('INSERT INTO b (v) VALUES (1)'))]).toEqual(['b'])
    // no WHERE: SQLite would empty the table without calling the update hook
    expect([...db.recordTables(() => db.run('DELETE FROM c'))]).toEqual(['c'])
    expect([...db.recordTables(() => db.run('DELETE FROM a'))]).toEqual(['a'])
    expect(db.select('SELECT count(*) AS n FROM a')).toEqual([{ n: 0 }])
    // DDL outside recording is unaffected by the recording's authorizer
    db.exec('DROP TABLE c; CREATE TABLE c (y)')
    expect([...db.recordTables(() => db.run('INSERT INTO c VALUES (1)'))]).toEqual(['c'])
    expect(db.select("SELECT name FROM sqlite_schema WHERE name = 'c'")).toEqual([{ name: 'c' }])
    // nested recordings see their own writes; the outer one sees all
    const outer = db.recordTables(() => {
      db.run('INSERT INTO b (v) VALUES (2)')
      expect([...db.recordTables(() => db.run("INSERT INTO a VALUES ('x', 1)"))]).toEqual(['a'])
    })
    expect([...outer].sort()).toEqual(['a', 'b'])
  })
})

describe('SqliteDb.copy', () => {
  const rowsOf = (db: SqliteDb) => db.select('SELECT id, s FROM t ORDER BY id')

  it('copies a database, in memory or deserialized, into an independent connection', async () => {
    const plain = await SqliteDb.open()
    plain.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)')
    plain.transaction(() => {
      for (let i = 0; i < 2000; i++) plain.run('INSERT INTO t (s) VALUES (?)', [`row ${i} ${'x'.repeat(100)}`])
    })
    const deserialized = await SqliteDb.deserialize(plain.serialize())
    for (const source of [plain, deserialized]) {
      const copy = source.copy()
      expect(rowsOf(copy)).toEqual(rowsOf(source))
      copy.run('DELETE FROM t WHERE id > 10')
      expect(source.select('SELECT count(*) AS n FROM t')).toEqual([{ n: 2000 }])
      expect(copy.select('SELECT count(*) AS n FROM t')).toEqual([{ n: 10 }])
      copy.close()
    }
  })

  it('copies an empty database', async () => {
    const copy = (await SqliteDb.open()).copy()
    copy.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)')
    copy.run('INSERT INTO t (s) VALUES (?)', ['a'])
    expect(rowsOf(copy)).toEqual([{ id: 1, s: 'a' }])
  })
})

describe('SqliteDb.copyWithout', () => {
  // a file database (sqlite-wasm's default VFS keeps files in memory under Node): copied tree by tree
  let files = 0
  const fileDb = async () => SqliteDb.open({ filename: `/copy-without-${++files}.sqlite` })
  const dump = (db: SqliteDb, table: string) => db.select(`SELECT * FROM ${table} ORDER BY 1`)
  /** integrity_check's findings, but for the pages of the trees left out (unused in the copy by design). */
  const problems = (db: SqliteDb) =>
    db
      .selectColumn('PRAGMA integrity_check(100000)')
      .flatMap((row) => String(row).split('\n'))
      .filter((line) => line !== 'ok' && line !== '*** in database main ***' && !/^Page \d+: never used$/.test(line))

  async function sourceDb(): Promise<SqliteDb> {
    const db = await fileDb()
    db.exec(`
      CREATE TABLE log (seq INTEGER PRIMARY KEY, body TEXT NOT NULL, tag TEXT UNIQUE);
      CREATE INDEX log_body ON log (body);
      CREATE TABLE items (id TEXT PRIMARY KEY, body TEXT, n INTEGER) ;
      CREATE INDEX items_n ON items (n, body);
      CREATE TABLE counters (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT);
      CREATE TABLE keyed (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;
    `)
    // enough tables that sqlite_schema itself spans several pages
    for (let t = 0; t < 60; t++) db.exec(`CREATE TABLE extra_${t} (id INTEGER PRIMARY KEY, ${'c'.repeat(200)}_${t} TEXT)`)
    db.transaction(() => {
      for (let i = 0; i < 3000; i++) {
        // interleaved, as a leader logs and materializes: their pages alternate in the file
        db.run('INSERT INTO log (body, tag) VALUES (?, ?)', [`event ${i} ${'e'.repeat(i % 300)}`, `tag-${i}`])
        // every 100th row overflows its page (an overflow chain to copy)
        db.run('INSERT INTO items VALUES (?, ?, ?)', [`item-${i}`, i % 100 === 0 ? 'o'.repeat(30_000 + i) : `body ${i}`, i % 7])
        if (i % 10 === 0) db.run('INSERT INTO counters (label) VALUES (?)', [`c${i}`])
        if (i % 5 === 0) db.run('INSERT INTO keyed VALUES (?, ?)', [`k${i}`, new Uint8Array(i % 2000).fill(i % 256)])
      }
    })
    // freed pages make a freelist with trunk pages
    db.run('DELETE FROM items WHERE n = 3')
    db.run('DELETE FROM counters WHERE id > 250')
    return db
  }

  it('copies every table but those named, with their indexes, overflow pages, sequences and freelist', async () => {
    const source = await sourceDb()
    expect(Number(source.select('PRAGMA freelist_count')[0]!.freelist_count)).toBeGreaterThan(0)
    const copy = source.copyWithout(['log'], readSparseImage)
    for (const table of ['items', 'counters', 'keyed', 'sqlite_sequence', 'extra_59'])
      expect(dump(copy, table)).toEqual(dump(source, table))
    expect(copy.select(`SELECT name FROM sqlite_schema WHERE tbl_name = 'log'`)).toEqual([])
    expect(() => copy.select('SELECT * FROM log')).toThrow(/no such table: log/)
    expect(problems(copy)).toEqual([])
    // the log's pages were left out of the copy, not dropped in it (they are zeros nobody reaches)
    expect(copy.selectColumn('PRAGMA integrity_check(100000)').join('\n')).toMatch(/Page \d+: never used/)
    // the indexes are whole: a lookup through each finds what a scan finds
    expect(copy.select('SELECT count(*) AS n FROM items INDEXED BY items_n WHERE n = 4')).toEqual(
      source.select('SELECT count(*) AS n FROM items WHERE n = 4'),
    )
    // the source is untouched, log included
    expect(source.select('SELECT count(*) AS n FROM log')).toEqual([{ n: 3000 }])
    expect(problems(source)).toEqual([])
  })

  it('gives a copy that takes writes far beyond its size, reusing the freelist, and stays whole', async () => {
    const source = await sourceDb()
    const copy = source.copyWithout(['log'], readSparseImage)
    copy.transaction(() => {
      for (let i = 0; i < 4000; i++) copy.run('INSERT INTO items VALUES (?, ?, ?)', [`new-${i}`, 'n'.repeat(3000), 3])
      copy.run('INSERT INTO counters (label) VALUES (?)', ['after'])
    })
    copy.exec('CREATE TABLE log (x)')
    copy.run('INSERT INTO log VALUES (1)')
    expect(copy.select('SELECT count(*) AS n FROM items WHERE n = 3')).toEqual([{ n: 4000 }])
    expect(copy.select(`SELECT id FROM counters WHERE label = 'after'`)).toEqual([{ id: 301 }])
    expect(copy.select('SELECT x FROM log')).toEqual([{ x: 1 }])
    expect(problems(copy)).toEqual([])
    // the copy's writes never reach the source
    expect(source.select('SELECT count(*) AS n FROM items WHERE n = 3')).toEqual([{ n: 0 }])
  })

  it('copies a database in memory whole and drops the tables there', async () => {
    const source = await SqliteDb.open()
    source.exec('CREATE TABLE log (x); CREATE TABLE t (y); INSERT INTO log VALUES (1); INSERT INTO t VALUES (2)')
    const copy = source.copyWithout(['log'], readSparseImage)
    expect(copy.select('SELECT y FROM t')).toEqual([{ y: 2 }])
    expect(copy.select(`SELECT name FROM sqlite_schema`)).toEqual([{ name: 't' }])
  })
})

describe('SqliteDb.load', () => {
  it('takes over a copy of another database, closing it, and reports the right tables written after', async () => {
    const session = await SqliteDb.open()
    session.exec('CREATE TABLE old (id INTEGER PRIMARY KEY)')
    expect([...session.recordTables(() => session.run('INSERT INTO old DEFAULT VALUES'))]).toEqual(['old'])
    const leader = await SqliteDb.open()
    leader.exec('CREATE TABLE a (id INTEGER PRIMARY KEY); CREATE TABLE b (id INTEGER PRIMARY KEY, s TEXT)')
    leader.run(`INSERT INTO b (s) VALUES ('from the leader')`)
    const copy = leader.copy()
    session.load(copy)
    expect(() => copy.select('SELECT 1')).toThrow()
    expect(session.select('SELECT s FROM b')).toEqual([{ s: 'from the leader' }])
    expect([...session.recordTables(() => session.run(`INSERT INTO b (s) VALUES ('x')`))]).toEqual(['b'])
    expect(() => session.select('SELECT * FROM old')).toThrow(/no such table: old/)
  })
})

describe('SqliteDb.close', () => {
  // 2,000 cycles in `npm test` (a leak shows as 4,000 more table slots); DB_CYCLES=10000 for the full count
  const cycles = Number(process.env.DB_CYCLES ?? 2_000)
  it(`gives back the wasm functions and memory of a database: ${cycles} open/close cycles leave the function table and heap flat`, async () => {
    const sqlite3 = await loadSqlite()
    const cycle = async () => {
      const db = await SqliteDb.open()
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
      // recording installs the update hook and the authorizer; a changeset adds the session
      db.recordTables(() => db.run('INSERT INTO t VALUES (1, ?)', ['x']))
      db.recordChanges(() => db.run('UPDATE t SET v = ? WHERE id = 1', ['y']))
      db.close()
    }
    for (let i = 0; i < 100; i++) await cycle() // warm up caches that are allocated once
    const functions = sqlite3.wasm.functionTable().length
    const memory = sqlite3.wasm.heap8u().byteLength
    for (let i = 0; i < cycles; i++) await cycle()
    expect(sqlite3.wasm.functionTable().length).toBe(functions)
    expect(sqlite3.wasm.heap8u().byteLength).toBe(memory)
  })
})

describe('SqliteDb.open', () => {
  it('tries loading sqlite-wasm again after a load that failed', async () => {
    vi.resetModules() // a fresh module: sqlite-wasm not loaded yet in it
    const fresh = await import('../src/sqlite/db.ts')
    const instantiate = vi.spyOn(WebAssembly, 'instantiate').mockRejectedValueOnce(new Error('out of memory'))
    try {
      await expect(fresh.SqliteDb.open()).rejects.toMatchObject({ code: 'SqliteLoadFailed', message: /out of memory/ })
      const db = await fresh.SqliteDb.open()
      expect(db.select('SELECT 1 AS one')).toEqual([{ one: 1 }])
      db.close()
    } finally {
      instantiate.mockRestore()
    }
  })
})
