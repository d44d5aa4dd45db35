import {
  ColumnValueError,
  createStorePromise,
  Events,
  makeInMemoryAdapter,
  makeSchema,
  MaterializerError,
  or,
  SchemaError,
  sql,
  State,
  type Store,
} from '@cairn/core'
import { afterEach, describe, expect, test } from 'vitest'
import { z } from 'zod'

const { table, text, integer, real, boolean, json, datetime, datetimeInteger, blob } = State.SQLite

const items = table({
  name: 'items',
  columns: {
    id: text({ primaryKey: true }),
    title: text({ default: '' }),
    qty: integer({ default: 0 }),
    price: real({ nullable: true }),
    done: boolean({ default: false }),
    due: datetime({ nullable: true }),
    dueMs: datetimeInteger({ nullable: true }),
    meta: json({ schema: z.object({ tags: z.array(z.string()) }), nullable: true }),
    data: blob({ nullable: true }),
  },
})

/** Expects `fn` to throw a ColumnValueError naming `table.column`, with `text` in its message. */
function expectColumnError(fn: () => unknown, tableName: string, column: string, text: string | RegExp) {
  let error: unknown
  try {
    fn()
  } catch (e) {
    error = e
  }
  expect(error).toBeInstanceOf(ColumnValueError)
  expect(error).toMatchObject({ table: tableName, column })
  expect((error as Error).message).toContain(`${tableName}.${column}:`)
  expect((error as Error).message).toMatch(text)
}

describe('select', () => {
  test('the table selects every row and column', () => {
    expect(items.asSql()).toEqual({ query: 'SELECT * FROM "items"', bindValues: [] })
  })

  test('select() names the columns', () => {
    expect(items.select('id', 'title').asSql().query).toBe('SELECT "id", "title" FROM "items"')
  })

  test('builders are immutable', () => {
    const open = items.where({ done: false })
    open.orderBy('title').limit(3)
    expect(open.asSql()).toEqual({ query: 'SELECT * FROM "items" WHERE "done" = ?', bindValues: [0] })
    expect(items.asSql().query).toBe('SELECT * FROM "items"')
  })
})

describe('where', () => {
  test('an object ANDs its fields; successive calls AND too', () => {
    expect(items.where({ done: false, qty: 3 }).where('title', 'x').asSql()).toEqual({
      query: 'SELECT * FROM "items" WHERE "done" = ? AND "qty" = ? AND "title" = ?',
      bindValues: [0, 3, 'x'],
    })
  })

  test('undefined fields are ignored', () => {
    expect(items.where({ id: 'a', title: undefined }).asSql().query).toBe('SELECT * FROM "items" WHERE "id" = ?')
  })

  test.each([['='], ['!='], ['<'], ['>'], ['<='], ['>=']] as const)('(col, %s, value)', (op) => {
    expect(items.where('qty', op, 5).asSql()).toEqual({ query: `SELECT * FROM "items" WHERE "qty" ${op} ?`, bindValues: [5] })
  })

  test.each([['LIKE'], ['NOT LIKE']] as const)('(col, %s, pattern)', (op) => {
    expect(items.where('title', op, '%milk%').asSql()).toEqual({
      query: `SELECT * FROM "items" WHERE "title" ${op} ?`,
      bindValues: ['%milk%'],
    })
  })

  test('the object form takes { op, value }', () => {
    expect(items.where({ qty: { op: '>=', value: 2 }, title: { op: 'LIKE', value: 'a%' } }).asSql()).toEqual({
      query: 'SELECT * FROM "items" WHERE "qty" >= ? AND "title" LIKE ?',
      bindValues: [2, 'a%'],
    })
  })

  test('IN and NOT IN bind one parameter per value', () => {
    expect(items.where('id', 'IN', ['a', 'b', 'c']).asSql()).toEqual({
      query: 'SELECT * FROM "items" WHERE "id" IN (?, ?, ?)',
      bindValues: ['a', 'b', 'c'],
    })
    expect(items.where({ qty: { op: 'NOT IN', value: [1, 2] } }).asSql()).toEqual({
      query: 'SELECT * FROM "items" WHERE "qty" NOT IN (?, ?)',
      bindValues: [1, 2],
    })
  })

  test('an empty IN matches nothing, an empty NOT IN everything', () => {
    expect(items.where('id', 'IN', []).asSql()).toEqual({ query: 'SELECT * FROM "items" WHERE 0', bindValues: [] })
    expect(items.where('id', 'NOT IN', []).asSql()).toEqual({ query: 'SELECT * FROM "items" WHERE 1', bindValues: [] })
  })

  test('null means IS NULL, and != null IS NOT NULL', () => {
    expect(items.where({ price: null }).asSql()).toEqual({ query: 'SELECT * FROM "items" WHERE "price" IS NULL', bindValues: [] })
    expect(items.where('price', null).asSql().query).toBe('SELECT * FROM "items" WHERE "price" IS NULL')
    expect(items.where('price', '=', null).asSql().query).toBe('SELECT * FROM "items" WHERE "price" IS NULL')
    expect(items.where('price', '!=', null).asSql().query).toBe('SELECT * FROM "items" WHERE "price" IS NOT NULL')
    expect(items.where({ price: { op: '!=', value: null } }).asSql().query).toBe('SELECT * FROM "items" WHERE "price" IS NOT NULL')
  })

  test('or() groups alternatives, each an AND of its fields', () => {
    expect(
      items
        .where({ qty: 1 })
        .where(or({ done: true }, { title: { op: 'LIKE', value: '%x%' }, price: null }))
        .asSql(),
    ).toEqual({
      query: 'SELECT * FROM "items" WHERE "qty" = ? AND (("done" = ?) OR ("title" LIKE ? AND "price" IS NULL))',
      bindValues: [1, 1, '%x%'],
    })
    expect(items.where(or({ id: 'a' }, {})).asSql().query).toBe('SELECT * FROM "items" WHERE (("id" = ?) OR (1))')
  })

  test('or() of nothing matches nothing', () => {
    expect(items.where(or()).asSql()).toEqual({ query: 'SELECT * FROM "items" WHERE 0', bindValues: [] })
  })

  test('values are encoded for their column', () => {
    const due = new Date('2024-05-01T10:00:00.000Z')
    expect(items.where({ done: true, due, dueMs: due }).asSql().bindValues).toEqual([1, '2024-05-01T10:00:00.000Z', due.getTime()])
    expect(items.where('due', '<', due).asSql().bindValues).toEqual(['2024-05-01T10:00:00.000Z'])
    expect(items.where('done', 'IN', [true, false]).asSql().bindValues).toEqual([1, 0])
  })

  test('unknown columns and operators, and values of the wrong type, are refused', () => {
    expectColumnError(() => items.where({ nope: 1 } as never), 'items', 'nope', /no such column; the table has id, title/)
    expectColumnError(() => items.where('nope' as never, 1 as never), 'items', 'nope', 'no such column')
    expectColumnError(() => items.where('qty', 'GLOB' as never, 1), 'items', 'qty', 'unknown operator "GLOB"')
    expectColumnError(() => items.where('qty', 'abc' as never), 'items', 'qty', 'expected an integer number, got string "abc"')
    expectColumnError(() => items.where({ done: 'yes' as never }), 'items', 'done', 'expected a boolean')
    expectColumnError(() => items.where('qty', 'IN', 3 as never), 'items', 'qty', 'IN needs an array')
    expectColumnError(() => items.where('due', '<', new Date('nope')), 'items', 'due', 'expected a valid Date, got an invalid Date')
  })
})

describe('orderBy, limit, offset', () => {
  test('orderBy appends columns, ascending by default', () => {
    expect(items.orderBy('qty', 'desc').orderBy('id').asSql().query).toBe('SELECT * FROM "items" ORDER BY "qty" DESC, "id" ASC')
  })

  test('limit and offset are bound', () => {
    expect(items.where({ done: false }).orderBy('title').limit(50).offset(10).asSql()).toEqual({
      query: 'SELECT * FROM "items" WHERE "done" = ? ORDER BY "title" ASC LIMIT ? OFFSET ?',
      bindValues: [0, 50, 10],
    })
  })

  test('offset without limit keeps all the remaining rows', () => {
    expect(items.offset(5).asSql()).toEqual({ query: 'SELECT * FROM "items" LIMIT -1 OFFSET ?', bindValues: [5] })
  })

  test('bad arguments are refused', () => {
    expectColumnError(() => items.orderBy('nope' as never), 'items', 'nope', 'no such column')
    expect(() => items.orderBy('id', 'up' as never)).toThrow(SchemaError)
    expect(() => items.limit(-1)).toThrow(/limit\(-1\) on items: pass a non-negative integer/)
    expect(() => items.offset(1.5)).toThrow(SchemaError)
    expectColumnError(() => items.select('id', 'nope' as never), 'items', 'nope', 'no such column')
  })
})

describe('first and count', () => {
  test('first() reads one row', () => {
    expect(items.where({ id: 'a' }).first().asSql()).toEqual({
      query: 'SELECT * FROM "items" WHERE "id" = ? LIMIT ?',
      bindValues: ['a', 1],
    })
    expect(items.orderBy('qty').limit(10).offset(2).first().asSql()).toEqual({
      query: 'SELECT * FROM "items" ORDER BY "qty" ASC LIMIT ? OFFSET ?',
      bindValues: [1, 2],
    })
  })

  test('first() gives undefined or the fallback when nothing matches', () => {
    expect(items.first().decodeResult([])).toBeUndefined()
    expect(items.first({ fallback: () => 'none' }).decodeResult([])).toBe('none')
    expect(items.first().decodeResult([{ id: 'a', done: 1 }])).toEqual({ id: 'a', done: true })
  })

  test('count() counts the matching rows', () => {
    const q = items.where({ done: true }).count()
    expect(q.asSql()).toEqual({ query: 'SELECT count(*) AS count FROM "items" WHERE "done" = ?', bindValues: [1] })
    expect(q.decodeResult([{ count: 4 }])).toBe(4)
  })
})

describe('insert', () => {
  test('plain defaults are filled in, nullable columns left out', () => {
    expect(items.insert({ id: 'a' }).asSql()).toEqual({
      query: 'INSERT INTO "items" ("id", "title", "qty", "done") VALUES (?, ?, ?, ?)',
      bindValues: ['a', '', 0, 0],
    })
  })

  test('statements stay right when shapes and row counts alternate on one table', () => {
    const shapes = [
      () => items.insert({ id: 'a' }),
      () => items.insert({ id: 'b', title: 't', price: 2 }),
      () => items.insert([{ id: 'c' }, { id: 'd' }]),
      () => items.insert({ price: 1, id: 'e' }),
    ]
    const expected = [
      'INSERT INTO "items" ("id", "title", "qty", "done") VALUES (?, ?, ?, ?)',
      'INSERT INTO "items" ("id", "title", "price", "qty", "done") VALUES (?, ?, ?, ?, ?)',
      'INSERT INTO "items" ("id", "title", "qty", "done") VALUES (?, ?, ?, ?), (?, ?, ?, ?)',
      'INSERT INTO "items" ("price", "id", "title", "qty", "done") VALUES (?, ?, ?, ?, ?)',
    ]
    for (const order of [
      [0, 1, 2, 3],
      [3, 3, 0, 2, 2, 1, 0],
    ]) {
      for (const k of order) expect(shapes[k]!().asSql().query).toBe(expected[k])
    }
  })

  test('one-row inserts of a repeated shape: every row checked, encoded and defaulted on its own', () => {
    let n = 0
    const notes = table({
      name: 'notes',
      columns: { id: text({ primaryKey: true }), n: integer({ default: () => ++n }), body: text({ nullable: true }) },
    })
    const sqlOf = (row: Record<string, unknown>) => notes.insert(row as never).asSql()
    const plain = 'INSERT INTO "notes" ("id", "body", "n") VALUES (?, ?, ?)'
    expect(sqlOf({ id: 'a', body: 'x' })).toEqual({ query: plain, bindValues: ['a', 'x', 1] })
    expect(sqlOf({ id: 'b', body: 'y' })).toEqual({ query: plain, bindValues: ['b', 'y', 2] })
    // the same keys with an undefined value: that column is left out, as for any row
    expect(sqlOf({ id: 'c', body: undefined })).toEqual({ query: 'INSERT INTO "notes" ("id", "n") VALUES (?, ?)', bindValues: ['c', 3] })
    expect(sqlOf({ id: 'd', body: 'z' })).toEqual({ query: plain, bindValues: ['d', 'z', 4] })
    // a bad value or an unknown column is refused though the shape was seen before
    expectColumnError(() => sqlOf({ id: 5, body: 'x' }), 'notes', 'id', 'expected a string, got number 5')
    expectColumnError(() => sqlOf({ id: 'e', body: 'x', nope: 1 }), 'notes', 'nope', 'no such column')
    expectColumnError(() => sqlOf({ id: null, body: 'x' }), 'notes', 'id', 'got null but the column is not nullable')
    expect(sqlOf({ body: 'w', id: 'f', n: 9 })).toEqual({
      query: 'INSERT INTO "notes" ("body", "id", "n") VALUES (?, ?, ?)',
      bindValues: ['w', 'f', 9],
    })
  })

  test('thunk defaults run per row; SQL defaults and auto-increment are left to SQLite', () => {
    let n = 0
    const log = table({
      name: 'log',
      columns: {
        seq: integer({ primaryKey: true, autoIncrement: true }),
        at: text({ default: { sql: 'CURRENT_TIMESTAMP' } }),
        n: integer({ default: () => ++n }),
        msg: text(),
      },
    })
    expect(log.insert([{ msg: 'a' }, { msg: 'b' }, { msg: 'c', n: 10 }]).asSql()).toEqual({
      query: 'INSERT INTO "log" ("msg", "n") VALUES (?, ?), (?, ?), (?, ?)',
      bindValues: ['a', 1, 'b', 2, 'c', 10],
    })
  })

  test('multi-row inserts are rectangular: a column missing from a row gets its default or null', () => {
    expect(
      items
        .insert([
          { id: 'a', price: 2.5 },
          { id: 'b', qty: 7 },
        ])
        .asSql(),
    ).toEqual({
      query: 'INSERT INTO "items" ("id", "price", "qty", "title", "done") VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?)',
      bindValues: ['a', 2.5, 0, '', 0, 'b', null, 7, '', 0],
    })
  })

  test('booleans, dates, JSON and blobs are encoded', () => {
    const due = new Date('2024-05-01T10:00:00.000Z')
    const data = new Uint8Array([1, 2, 3])
    const { bindValues } = items.insert({ id: 'a', done: true, due, dueMs: due, meta: { tags: ['x'] }, data }).asSql()
    expect(bindValues).toEqual(['a', 1, '2024-05-01T10:00:00.000Z', due.getTime(), '{"tags":["x"]}', data, '', 0])
  })

  test('onConflict ignore, replace and update', () => {
    const insert = items.insert({ id: 'a', title: 't' })
    expect(insert.onConflict('id', 'ignore').asSql().query).toBe(
      'INSERT INTO "items" ("id", "title", "qty", "done") VALUES (?, ?, ?, ?) ON CONFLICT ("id") DO NOTHING',
    )
    expect(insert.onConflict('id', 'replace').asSql().query).toBe(
      'INSERT INTO "items" ("id", "title", "qty", "done") VALUES (?, ?, ?, ?) ON CONFLICT ("id") DO UPDATE SET ' +
        '"title" = excluded."title", "qty" = excluded."qty", "price" = excluded."price", "done" = excluded."done", ' +
        '"due" = excluded."due", "dueMs" = excluded."dueMs", "meta" = excluded."meta", "data" = excluded."data"',
    )
    expect(insert.onConflict(['id'], 'update', { qty: 5, done: true }).asSql()).toEqual({
      query:
        'INSERT INTO "items" ("id", "title", "qty", "done") VALUES (?, ?, ?, ?) ON CONFLICT ("id") DO UPDATE SET "qty" = ?, "done" = ?',
      bindValues: ['a', 't', 0, 0, 5, 1],
    })
  })

  test('returning names the columns', () => {
    expect(items.insert({ id: 'a' }).returning('id', 'qty').asSql().query).toBe(
      'INSERT INTO "items" ("id", "title", "qty", "done") VALUES (?, ?, ?, ?) RETURNING "id", "qty"',
    )
  })

  test('bad inserts are refused with the table and column', () => {
    expectColumnError(() => items.insert({ title: 'x' } as never).asSql(), 'items', 'id', 'is required on insert')
    expectColumnError(() => items.insert({ id: 'a', nope: 1 } as never).asSql(), 'items', 'nope', 'no such column')
    expectColumnError(() => items.insert({ id: 1 } as never).asSql(), 'items', 'id', 'expected a string, got number 1')
    expectColumnError(
      () => items.insert({ id: 'a', qty: 1.5 }).asSql(),
      'items',
      'qty',
      'expected an integer number, got the non-integer 1.5',
    )
    expectColumnError(() => items.insert({ id: 'a', done: 1 } as never).asSql(), 'items', 'done', 'expected a boolean')
    expectColumnError(() => items.insert({ id: 'a', due: '2024-01-01' } as never).asSql(), 'items', 'due', 'expected a valid Date')
    expectColumnError(() => items.insert({ id: 'a', data: [1] } as never).asSql(), 'items', 'data', 'expected a Uint8Array, got an array')
    expectColumnError(() => items.insert({ id: null } as never).asSql(), 'items', 'id', 'got null but the column is not nullable')
    expectColumnError(
      () => items.insert([{ id: 'a', title: 'x' }, { id: 'b', title: null } as never]).asSql(),
      'items',
      'title',
      'not nullable',
    )
    expect(() => items.insert([])).toThrow(SchemaError)
  })

  test('JSON values are validated by the column schema, naming the failing field', () => {
    expectColumnError(
      () => items.insert({ id: 'a', meta: { tags: ['ok', 3] } as never }).asSql(),
      'items',
      'meta',
      /value does not match the column's schema: tags\.1: /,
    )
  })

  test('values JSON or SQLite cannot hold are refused, not stored as NULL', () => {
    const loose = table({ name: 'loose', columns: { id: text({ primaryKey: true }), j: json({ nullable: true }) } })
    expectColumnError(() => loose.insert({ id: 'a', j: () => 1 }).asSql(), 'loose', 'j', 'expected a JSON value, got function')
    expectColumnError(() => loose.insert({ id: 'a', j: { n: 1n } }).asSql(), 'loose', 'j', 'not JSON-serializable')
    expectColumnError(() => items.insert({ id: 'a', price: NaN }).asSql(), 'items', 'price', 'expected a number, got NaN')
  })

  test('onConflict is checked', () => {
    expectColumnError(() => items.insert({ id: 'a' }).onConflict('nope' as never, 'ignore'), 'items', 'nope', 'onConflict target')
    expect(() => items.insert({ id: 'a' }).onConflict('id', 'update', {})).toThrow(/pass the columns to set/)
    expect(() => items.update({ qty: 1 }).onConflict('id', 'ignore')).toThrow(SchemaError)
    expect(() => items.insert({ id: 'a' }).where({ id: 'a' })).toThrow(/where\(\) applies to update and delete only/)
    expectColumnError(() => items.insert({ id: 'a' }).returning('nope' as never), 'items', 'nope', 'returning()')
  })
})

describe('update and delete', () => {
  test('update sets the columns, encoded, on the matching rows', () => {
    const due = new Date('2024-05-01T10:00:00.000Z')
    expect(
      items
        .update({ done: true, due, meta: { tags: [] } })
        .where({ id: 'a' })
        .asSql(),
    ).toEqual({
      query: 'UPDATE "items" SET "done" = ?, "due" = ?, "meta" = ? WHERE "id" = ?',
      bindValues: [1, '2024-05-01T10:00:00.000Z', '{"tags":[]}', 'a'],
    })
  })

  test('a where before update or delete scopes it, like one after', () => {
    expect(items.where({ done: true }).update({ qty: 0 }).where('qty', '>', 5).asSql()).toEqual({
      query: 'UPDATE "items" SET "qty" = ? WHERE "done" = ? AND "qty" > ?',
      bindValues: [0, 1, 5],
    })
    expect(items.where('id', 'IN', ['a', 'b']).delete().asSql()).toEqual({
      query: 'DELETE FROM "items" WHERE "id" IN (?, ?)',
      bindValues: ['a', 'b'],
    })
  })

  test('delete with where, without, and with returning', () => {
    expect(
      items
        .delete()
        .where(or({ done: true }, { qty: 0 }))
        .returning('id')
        .asSql(),
    ).toEqual({
      query: 'DELETE FROM "items" WHERE (("done" = ?) OR ("qty" = ?)) RETURNING "id"',
      bindValues: [1, 0],
    })
    expect(items.delete().asSql()).toEqual({ query: 'DELETE FROM "items"', bindValues: [] })
  })

  test('undefined fields are skipped, as in insert and where, not set to NULL', () => {
    expect(items.update({ title: undefined, price: undefined, qty: 2 }).asSql()).toEqual({
      query: 'UPDATE "items" SET "qty" = ?',
      bindValues: [2],
    })
    expect(items.insert({ id: 'a' }).onConflict('id', 'update', { price: undefined, qty: 1 }).asSql().query).toMatch(
      /DO UPDATE SET "qty" = \?$/,
    )
    expect(() => items.update({ title: undefined })).toThrow(/pass at least one column to set/)
  })

  test('bad updates are refused', () => {
    expect(() => items.update({})).toThrow(/pass at least one column to set/)
    expectColumnError(() => items.update({ nope: 1 } as never).asSql(), 'items', 'nope', 'no such column')
    expectColumnError(() => items.update({ qty: 'x' } as never).asSql(), 'items', 'qty', 'expected an integer number')
    expectColumnError(() => items.update({ title: null } as never).asSql(), 'items', 'title', 'not nullable')
    expectColumnError(() => items.update({ meta: { tags: 'x' } as never }).asSql(), 'items', 'meta', /tags: /)
    expectColumnError(() => items.delete().where({ nope: 1 } as never), 'items', 'nope', 'no such column')
  })
})

describe('against SQLite, through a store', () => {
  const memberships = table({
    name: 'memberships',
    columns: { userId: text(), groupId: text(), role: text({ default: 'member' }) },
    primaryKey: ['userId', 'groupId'],
  })
  const users = table({
    name: 'users',
    columns: { id: integer({ primaryKey: true, autoIncrement: true }), email: text() },
    indexes: [{ name: 'users_email', columns: ['email'], isUnique: true }],
  })
  const itemArgs = z.object({
    id: z.string(),
    price: z.number().nullable(),
    due: z.string(),
    tags: z.array(z.string()),
    bytes: z.array(z.number()),
  })
  const events = {
    itemAdded: Events.synced({ name: 'v1.ItemAdded', schema: itemArgs }),
    itemsAdded: Events.synced({ name: 'v1.ItemsAdded', schema: z.object({ ids: z.array(z.string()) }) }),
    itemRenamed: Events.synced({ name: 'v1.ItemRenamed', schema: z.object({ id: z.string(), title: z.string() }) }),
    itemBumped: Events.synced({ name: 'v1.ItemBumped', schema: z.object({ id: z.string() }) }),
    itemsCleared: Events.synced({ name: 'v1.ItemsCleared', schema: z.object({}) }),
    noop: Events.synced({ name: 'v1.Noop', schema: z.object({}) }),
    joined: Events.synced({
      name: 'v1.Joined',
      schema: z.object({ userId: z.string(), groupId: z.string(), role: z.string().optional() }),
    }),
    userAdded: Events.synced({ name: 'v1.UserAdded', schema: z.object({ email: z.string() }) }),
  }
  const materializers = State.SQLite.materializers(events, {
    'v1.ItemAdded': ({ id, price, due, tags, bytes }) =>
      items.insert({ id, price, done: true, due: new Date(due), dueMs: new Date(due), meta: { tags }, data: new Uint8Array(bytes) }),
    'v1.ItemsAdded': ({ ids }) => ids.map((id, i) => items.insert({ id, qty: i })),
    'v1.ItemRenamed': ({ id, title }) => ({ sql: 'UPDATE items SET title = ? WHERE id = ?', bindValues: [title, id] }),
    'v1.ItemBumped': ({ id }) => sql`UPDATE items SET qty = qty + ${1} WHERE id = ${id}`,
    'v1.ItemsCleared': () => [items.delete().where({ done: false }), items.update({ qty: 0 })],
    'v1.Noop': () => {},
    'v1.Joined': ({ userId, groupId, role }) =>
      role === undefined
        ? memberships.insert({ userId, groupId })
        : memberships.insert({ userId, groupId, role }).onConflict(['userId', 'groupId'], 'update', { role }),
    'v1.UserAdded': ({ email }) => users.insert({ email }),
  })
  const schema = makeSchema({ events, state: State.SQLite.makeState({ tables: { items, memberships, users }, materializers }) })

  let store: Store<typeof schema>
  afterEach(() => store?.shutdown())
  const open = async () => {
    store = await createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: 'qb' })
    return store
  }

  test('rows are decoded to JS types', async () => {
    const s = await open()
    s.commit(events.itemAdded({ id: 'a', price: 1.25, due: '2024-05-01T10:00:00.000Z', tags: ['x', 'y'], bytes: [0, 255] }))
    const row = s.query(items.where({ id: 'a' }).first())
    expect(row).toEqual({
      id: 'a',
      title: '',
      qty: 0,
      price: 1.25,
      done: true,
      due: new Date('2024-05-01T10:00:00.000Z'),
      dueMs: new Date('2024-05-01T10:00:00.000Z'),
      meta: { tags: ['x', 'y'] },
      data: new Uint8Array([0, 255]),
    })
    expect(row!.due).toBeInstanceOf(Date)
    expect(row!.data).toBeInstanceOf(Uint8Array)
    expect(s.query(items.select('id', 'done').where('due', '<=', new Date('2024-05-01T10:00:00.000Z')))).toEqual([{ id: 'a', done: true }])
    expect(s.query(items.where({ meta: { tags: ['x', 'y'] } }).count())).toBe(1)
  })

  test('builder writes, arrays, raw { sql, bindValues }, sql fragments and nothing', async () => {
    const s = await open()
    s.commit(events.itemsAdded({ ids: ['a', 'b', 'c'] }))
    s.commit(events.itemRenamed({ id: 'b', title: "O'Brien; DROP TABLE items" }))
    s.commit(events.itemBumped({ id: 'c' }), events.itemBumped({ id: 'c' }))
    s.commit(events.noop({}))
    expect(s.query(items.select('id', 'title', 'qty').orderBy('id'))).toEqual([
      { id: 'a', title: '', qty: 0 },
      { id: 'b', title: "O'Brien; DROP TABLE items", qty: 1 },
      { id: 'c', title: '', qty: 4 },
    ])
    expect(s.query(items.where(or({ id: 'a' }, { qty: { op: '>', value: 3 } })).select('id'))).toEqual([{ id: 'a' }, { id: 'c' }])
    expect(s.query(items.where('id', 'NOT IN', ['a']).orderBy('id', 'desc').limit(1).select('id'))).toEqual([{ id: 'c' }])
    expect(s.query(items.where('title', 'LIKE', "O'B%").count())).toBe(1)
    expect(s.query(items.where({ price: null }).count())).toBe(3)
    expect(s.query(items.where('id', 'IN', []).count())).toBe(0)
    s.commit(events.itemsCleared({}))
    expect(s.query(items.count())).toBe(0)
  })

  test('composite primary keys and onConflict update', async () => {
    const s = await open()
    s.commit(
      events.joined({ userId: 'u1', groupId: 'g1' }),
      events.joined({ userId: 'u1', groupId: 'g2' }),
      events.joined({ userId: 'u2', groupId: 'g1' }),
    )
    s.commit(events.joined({ userId: 'u1', groupId: 'g1', role: 'admin' }))
    expect(s.query(memberships.orderBy('userId').orderBy('groupId'))).toEqual([
      { userId: 'u1', groupId: 'g1', role: 'admin' },
      { userId: 'u1', groupId: 'g2', role: 'member' },
      { userId: 'u2', groupId: 'g1', role: 'member' },
    ])
    let error: unknown
    try {
      s.commit(events.joined({ userId: 'u2', groupId: 'g1' }))
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(MaterializerError)
    expect((error as MaterializerError).eventName).toBe('v1.Joined')
    expect((error as Error).message).toMatch(/UNIQUE constraint failed: memberships\.userId, memberships\.groupId/)
    expect(s.query(memberships.count())).toBe(3)
  })

  test('a unique index violation names the table and column and rolls back', async () => {
    const s = await open()
    s.commit(events.userAdded({ email: 'a@x.io' }), events.userAdded({ email: 'b@x.io' }))
    expect(s.query(users.orderBy('id'))).toEqual([
      { id: 1, email: 'a@x.io' },
      { id: 2, email: 'b@x.io' },
    ])
    let error: unknown
    try {
      s.commit(events.userAdded({ email: 'c@x.io' }), events.userAdded({ email: 'a@x.io' }))
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(MaterializerError)
    expect(error).toMatchObject({ eventName: 'v1.UserAdded', table: 'users', column: 'email' })
    expect((error as Error).message).toContain('users.email')
    expect(s.query(users.count())).toBe(2)
  })

  test('a bad value written by a materializer names the table and column', async () => {
    const s = await open()
    let error: unknown
    try {
      s.commit(events.itemAdded({ id: 'a', price: null, due: 'not a date', tags: [], bytes: [] }))
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(MaterializerError)
    expect(error).toMatchObject({ eventName: 'v1.ItemAdded', table: 'items', column: 'due' })
    expect(s.query(items.count())).toBe(0)
  })
})
