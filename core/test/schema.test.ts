import {
  createStorePromise,
  Events,
  InvalidEventArgsError,
  makeInMemoryAdapter,
  makeSchema,
  MaterializerError,
  queryDb,
  SchemaError,
  SessionIdSymbol,
  sql,
  State,
  type AnyEventDef,
  type StandardSchemaV1,
  type Store,
} from '@cairn/core'
import fc from 'fast-check'
import * as v from 'valibot'
import { afterEach, describe, expect, test } from 'vitest'
import { z } from 'zod'

const { table, text, integer, boolean } = State.SQLite

/** Returns what `fn` throws (failing the test when it does not throw). */
function thrown(fn: () => unknown): Error {
  try {
    fn()
  } catch (e) {
    return e as Error
  }
  throw new Error('expected a throw')
}

describe('makeSchema', () => {
  const notes = table({ name: 'notes', columns: { id: text({ primaryKey: true }), body: text({ default: '' }) } })
  const noteAdded = Events.synced({ name: 'v1.NoteAdded', schema: z.object({ id: z.string() }) })
  const noteRemoved = Events.synced({ name: 'v1.NoteRemoved', schema: z.object({ id: z.string() }) })
  const make = (events: Record<string, AnyEventDef>, materializers: object, tables: Record<string, unknown> = { notes }) =>
    makeSchema({ events, state: State.SQLite.makeState({ tables: tables as never, materializers }) })

  test('assembles events, materializers, tables and DDL', () => {
    const schema = make({ noteAdded }, { 'v1.NoteAdded': ({ id }: { id: string }) => notes.insert({ id }) })
    expect([...schema.eventsByName.keys()]).toEqual(['v1.NoteAdded'])
    expect([...schema.tablesByName.keys()]).toEqual(['notes'])
    expect(schema.ddl).toEqual(['CREATE TABLE "notes" ("id" TEXT PRIMARY KEY NOT NULL, "body" TEXT NOT NULL DEFAULT (\'\'))'])
    expect(schema.unknownEventHandling).toBe('warn')
  })

  test('an event without a materializer is refused', () => {
    const e = thrown(() => make({ noteAdded, noteRemoved }, { 'v1.NoteAdded': () => {} }))
    expect(e).toBeInstanceOf(SchemaError)
    expect(e.message).toBe('Event "v1.NoteRemoved" has no materializer; add one to State.SQLite.materializers.')
  })

  test('a materializer for an unknown event is refused', () => {
    const e = thrown(() => make({ noteAdded }, { 'v1.NoteAdded': () => {}, 'v1.NoteEdited': () => {} }))
    expect(e).toBeInstanceOf(SchemaError)
    expect(e.message).toMatch(/materializer for "v1\.NoteEdited" but no event of that name/)
  })

  test('a materializer must be a function', () => {
    expect(() => make({ noteAdded }, { 'v1.NoteAdded': 'nope' })).toThrow(/materializer for "v1\.NoteAdded" must be a function/)
  })

  test('duplicate event names are refused', () => {
    const again = Events.synced({ name: 'v1.NoteAdded', schema: z.object({ id: z.string(), body: z.string() }) })
    const e = thrown(() => make({ noteAdded, again }, { 'v1.NoteAdded': () => {} }))
    expect(e).toBeInstanceOf(SchemaError)
    expect(e.message).toBe('Two events are named "v1.NoteAdded"; event names must be unique.')
    // the same definition under two keys is one event
    expect(() => make({ noteAdded, alias: noteAdded }, { 'v1.NoteAdded': () => {} })).not.toThrow()
  })

  test("a client document's set event collides with an event of the same name", () => {
    const ui = State.SQLite.clientDocument({ name: 'ui', schema: z.object({ a: z.number() }), default: { value: { a: 0 } } })
    const uiSet = Events.clientOnly({ name: 'uiSet', schema: z.object({}) })
    expect(() => make({ uiSet }, { uiSet: () => {} }, { notes, ui })).toThrow(/Two events are named "uiSet"/)
  })

  test('duplicate table names are refused, client documents included', () => {
    const other = table({ name: 'notes', columns: { id: text({ primaryKey: true }) } })
    const e = thrown(() => make({}, {}, { notes, other }))
    expect(e).toBeInstanceOf(SchemaError)
    expect(e.message).toBe('Two tables are named "notes"; table names must be unique.')
    const doc = State.SQLite.clientDocument({ name: 'notes', schema: z.object({}), default: { value: {} } })
    expect(() => make({}, {}, { notes, doc })).toThrow(/Two tables are named "notes"/)
  })

  test('something that is not a table is refused by its key', () => {
    expect(() => make({}, {}, { notes, broken: { name: 'x' } })).toThrow(/state\.tables\.broken is not a table/)
  })

  test('tables are checked when defined', () => {
    expect(() => table({ name: 'bad name', columns: { id: text() } })).toThrow(SchemaError)
    expect(() => table({ name: '__cairn_x', columns: { id: text() } })).toThrow(/reserved/)
    expect(() => table({ name: 't', columns: {} })).toThrow(/at least one column/)
    expect(() => table({ name: 't', columns: { id: text({ autoIncrement: true }) } })).toThrow(
      /t\.id: autoIncrement needs an integer primary key/,
    )
    expect(() => table({ name: 't', columns: { a: text({ primaryKey: true }), b: text({ primaryKey: true }) } })).toThrow(
      /for a composite key use the table option primaryKey: \['a', 'b'\]/,
    )
    expect(() => table({ name: 't', columns: { a: text() }, indexes: [{ name: 't_b', columns: ['b' as 'a'] }] })).toThrow(
      'Index "t_b" names "b", which is not a column of table "t".',
    )
  })
})

describe('stateHash', () => {
  type Variant = {
    kind?: 'text' | 'integer'
    nullable?: boolean
    index?: string[]
    unique?: boolean
    extra?: boolean
    clientOnly?: boolean
  }
  const hashOf = (variant: Variant = {}, order: 'ab' | 'ba' = 'ab') => {
    const a = table({
      name: 'a',
      columns: {
        id: text({ primaryKey: true }),
        n: variant.kind === 'text' ? text({ nullable: variant.nullable ?? false }) : integer({ nullable: variant.nullable ?? false }),
        flag: boolean({ default: false }),
        ...(variant.extra ? { more: text({ nullable: true }) } : {}),
      },
      indexes: [{ name: 'a_idx', columns: (variant.index ?? ['n']) as ['n'], isUnique: variant.unique ?? false }],
      clientOnly: variant.clientOnly ?? false,
    })
    const b = table({ name: 'b', columns: { id: integer({ primaryKey: true }) } })
    const tables = order === 'ab' ? { a, b } : { b, a }
    return makeSchema({ events: {}, state: State.SQLite.makeState({ tables, materializers: {} }) }).stateHash
  }

  test('is stable for identical definitions, whatever the key order', () => {
    expect(hashOf()).toMatch(/^[0-9a-z]+$/)
    expect(hashOf()).toBe(hashOf())
    expect(hashOf({}, 'ba')).toBe(hashOf())
  })

  test('changes when a column or an index changes', () => {
    const base = hashOf()
    const variants: Variant[] = [
      { kind: 'text' },
      { nullable: true },
      { extra: true },
      { index: ['flag'] },
      { index: ['n', 'flag'] },
      { unique: true },
      { clientOnly: true },
    ]
    const hashes = variants.map((variant) => hashOf(variant))
    for (const h of hashes) expect(h).not.toBe(base)
    expect(new Set(hashes).size).toBe(variants.length)
  })
})

describe('events', () => {
  const zodCreated = Events.synced({
    name: 'v1.TodoCreated',
    schema: z.object({ id: z.string(), text: z.string(), meta: z.object({ tags: z.array(z.string()) }).optional() }),
  })
  const valibotCreated = Events.synced({
    name: 'v2.TodoCreated',
    schema: v.object({ id: v.string(), text: v.string(), meta: v.optional(v.object({ tags: v.array(v.string()) })) }),
  })

  describe.each([
    ['Zod', zodCreated],
    ['Valibot', valibotCreated],
  ] as const)('with %s', (_vendor, created) => {
    const name = created.eventName

    test('valid args give { name, args, json }', () => {
      const event = created({ id: 'a', text: 'Buy milk', meta: { tags: ['x'] } })
      expect({ name: event.name, args: event.args, json: event.json }).toEqual({
        name,
        args: { id: 'a', text: 'Buy milk', meta: { tags: ['x'] } },
        json: '{"id":"a","text":"Buy milk","meta":{"tags":["x"]}}',
      })
      expect(created.decode(event.json)).toEqual(event.args)
    })

    test('invalid args throw InvalidEventArgsError naming the event and the field path', () => {
      const e = thrown(() => created({ id: 'a', text: 3 as never }))
      expect(e).toBeInstanceOf(InvalidEventArgsError)
      expect(e).toMatchObject({ code: 'InvalidEventArgs', eventName: name })
      expect((e as InvalidEventArgsError).issues.map((i) => i.path)).toEqual(['text'])
      expect(e.message).toMatch(new RegExp(`^Invalid args for event "${name.replace('.', '\\.')}": text: `))

      const nested = thrown(() => created({ id: 'a', text: 't', meta: { tags: ['ok', 1 as never] } })) as InvalidEventArgsError
      expect(nested.issues.map((i) => i.path)).toEqual(['meta.tags.1'])
      expect(nested.message).toContain('meta.tags.1: ')

      const missing = thrown(() => created({ id: 'a' } as never)) as InvalidEventArgsError
      expect(missing.issues.map((i) => i.path)).toEqual(['text'])
    })

    test('args that do not survive JSON are refused', () => {
      // undefined fields vanish in JSON: a required one is then missing
      expect((thrown(() => created({ id: 'a', text: undefined as never })) as InvalidEventArgsError).issues.map((i) => i.path)).toEqual([
        'text',
      ])
      expect(thrown(() => created(undefined as never)).message).toMatch(/args are missing/)
      const big = thrown(() => created({ id: 'a', text: 't', extra: 1n } as never))
      expect(big).toBeInstanceOf(InvalidEventArgsError)
      expect(big.message).toMatch(/args must be JSON-serializable/)
    })
  })

  test('a Date is refused even by z.date(): the eventlog stores JSON', () => {
    const scheduled = Events.synced({ name: 'v1.Scheduled', schema: z.object({ at: z.date() }) })
    const e = thrown(() => scheduled({ at: new Date() })) as InvalidEventArgsError
    expect(e).toBeInstanceOf(InvalidEventArgsError)
    expect(e.eventName).toBe('v1.Scheduled')
    expect(e.issues.map((i) => i.path)).toEqual(['at'])
  })

  test('NaN becomes null in JSON and is refused by a number schema', () => {
    const measured = Events.synced({ name: 'v1.Measured', schema: v.object({ value: v.number() }) })
    expect((thrown(() => measured({ value: NaN })) as InvalidEventArgsError).issues.map((i) => i.path)).toEqual(['value'])
  })

  test('args are the schema output, json the input', () => {
    const counted = Events.synced({
      name: 'v1.Counted',
      schema: z.object({ n: z.string().transform(Number), tag: z.string().default('none') }),
    })
    const event = counted({ n: '3' })
    expect({ name: event.name, args: event.args, json: event.json }).toEqual({
      name: 'v1.Counted',
      args: { n: 3, tag: 'none' },
      json: '{"n":"3"}',
    })
    expect(counted.decode('{"n":"4","tag":"x"}')).toEqual({ n: 4, tag: 'x' })
  })

  test('args are exactly what the JSON round trip gives, for any value (plain data is copied, not round-tripped)', () => {
    const anyArgs = Events.synced({ name: 'v1.Any', schema: z.unknown() })
    const odd = fc.constantFrom<unknown>(-0, NaN, Infinity, undefined, new Date(0), { toJSON: () => 'j' }, [1, , 3], new Map(), '\ud800')
    const withProto = fc.constant(JSON.parse('{"__proto__":{"a":1},"b":2}') as unknown)
    const value = fc.oneof(
      fc.jsonValue(),
      odd,
      withProto,
      fc.dictionary(fc.string(), fc.oneof(fc.jsonValue(), odd)),
      fc.array(fc.oneof(fc.jsonValue(), odd)),
    )
    fc.assert(
      fc.property(value, (input) => {
        const json = JSON.stringify(input)
        if (json === undefined) return
        const event = anyArgs(input as never)
        expect(event.json).toBe(json)
        const roundTrip = JSON.parse(json)
        expect(event.args).toStrictEqual(roundTrip)
        expect(JSON.stringify(event.args)).toBe(json) // same keys in the same order
        if (typeof input === 'object' && input !== null) expect(event.args).not.toBe(input) // a copy, never the caller's object
      }),
      { numRuns: 500 },
    )
  })

  test('a getter is read once: json and args always agree', () => {
    const anyArgs = Events.synced({ name: 'v1.Any', schema: z.object({ n: z.number() }) })
    let calls = 0
    const event = anyArgs({
      get n() {
        return ++calls
      },
    })
    expect(JSON.parse(event.json)).toEqual(event.args)
  })

  test('json is the args as given, whatever happens to the caller’s object or the args afterwards', () => {
    const flat = Events.synced({ name: 'v1.Flat', schema: z.object({ id: z.string(), text: z.string() }) })
    const input = { id: 'a', text: 'before' }
    const event = flat(input)
    input.text = 'after'
    expect(event.json).toBe('{"id":"a","text":"before"}')
    // a validator that hands its input back: the args are the copy it was given, and a
    // materializer that changed them (it must not) could not reach the JSON
    const passthrough = Events.synced({
      name: 'v1.Pass',
      schema: { '~standard': { version: 1, vendor: 'test', validate: (value: unknown) => ({ value }) } } as StandardSchemaV1<{
        id: string
      }>,
    })
    const passed = passthrough({ id: 'a' })
    ;(passed.args as { id: string }).id = 'changed'
    expect(passed.json).toBe('{"id":"a"}')
    // nested values: the JSON is made at once, before anything could share and change them
    const nested = Events.synced({ name: 'v1.Nested', schema: z.object({ meta: z.any() }) })
    const withMeta = nested({ meta: { tags: ['x'] } })
    ;(withMeta.args as { meta: { tags: string[] } }).meta.tags.push('y')
    expect(withMeta.json).toBe('{"meta":{"tags":["x"]}}')
  })

  test('definitions are checked', () => {
    expect(() => Events.synced({ name: '', schema: z.object({}) })).toThrow(SchemaError)
    expect(() => Events.synced({ name: 'v1.X', schema: { parse: () => {} } as never })).toThrow(/must be a Standard Schema v1 validator/)
    expect(Events.clientOnly({ name: 'Draft', schema: z.object({}) }).clientOnly).toBe(true)
  })
})

describe('sql', () => {
  test('every interpolated value is a bind parameter, never text', () => {
    const evil = "x'; DROP TABLE todos; --"
    const q = sql`SELECT * FROM todos WHERE text = ${evil} AND n > ${3}`
    expect(q).toEqual({ query: 'SELECT * FROM todos WHERE text = ? AND n > ?', bindValues: [evil, 3] })
    expect(q.query).not.toContain('DROP')
  })

  test('nested fragments are spliced in with their parameters, in order', () => {
    const cond = sql`completed = ${1} AND text LIKE ${'%a%'}`
    const q = sql`SELECT * FROM todos WHERE id = ${'x'} OR (${cond}) LIMIT ${5}`
    expect(q).toEqual({
      query: 'SELECT * FROM todos WHERE id = ? OR (completed = ? AND text LIKE ?) LIMIT ?',
      bindValues: ['x', 1, '%a%', 5],
    })
    expect(sql`${sql``}`).toEqual({ query: '', bindValues: [] })
  })

  test('only real fragments are spliced; a look-alike object is a value', () => {
    const fake = { query: 'DROP TABLE todos', bindValues: [] }
    expect(sql`SELECT ${fake}`).toEqual({ query: 'SELECT ?', bindValues: ['{"query":"DROP TABLE todos","bindValues":[]}'] })
  })

  test('values are converted for SQLite', () => {
    const bytes = new Uint8Array([1])
    const q = sql`${true}${false}${new Date('2024-01-02T03:04:05.000Z')}${undefined}${null}${bytes}${10n}${{ a: 1 }}`
    expect(q.bindValues).toEqual([1, 0, '2024-01-02T03:04:05.000Z', null, null, bytes, 10n, '{"a":1}'])
    expect(() => sql`${() => 1}`).toThrow(/Cannot bind a function/)
    expect(() => sql`${Symbol('s')}`).toThrow(/Cannot bind a symbol/)
  })
})

describe('clientDocument through a store', () => {
  const Ui = z.object({
    filter: z.enum(['all', 'done']),
    page: z.number(),
    sort: z.object({ by: z.string(), desc: z.boolean() }),
  })
  const ui = State.SQLite.clientDocument({
    name: 'ui',
    schema: Ui,
    default: { value: { filter: 'all', page: 0, sort: { by: 'text', desc: false } } },
  })
  const tab = State.SQLite.clientDocument({
    name: 'tab',
    schema: v.object({ scroll: v.number() }),
    default: { id: SessionIdSymbol, value: { scroll: 0 } },
  })
  const schema = makeSchema({ events: {}, state: State.SQLite.makeState({ tables: { ui, tab }, materializers: {} }) })
  const rowCount = (store: Store, name: string) => store.query(queryDb({ query: `SELECT count(*) AS n FROM ${name}` }))
  const stores: Store[] = []
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.shutdown()
  })
  const open = async (adapter = makeInMemoryAdapter()) => {
    const store = await createStorePromise({ schema, adapter, storeId: 'docs' })
    stores.push(store)
    return store
  }

  test('a missing document reads as the default, without writing a row', async () => {
    const store = await open()
    expect(store.query(ui.get())).toEqual({ filter: 'all', page: 0, sort: { by: 'text', desc: false } })
    expect(store.query(queryDb(ui.get()))).toEqual(ui.defaultValue)
    expect(store.query(ui.get('other'))).toEqual(ui.defaultValue)
    expect(rowCount(store, 'ui')).toEqual([{ n: 0 }])
  })

  test('set merges shallowly into the current value', async () => {
    const store = await open()
    const seen: unknown[] = []
    store.subscribe(queryDb(ui.get()), (value) => seen.push(value))
    store.commit(ui.set({ filter: 'done' }))
    store.commit(ui.set({ page: 2 }))
    expect(store.query(ui.get())).toEqual({ filter: 'done', page: 2, sort: { by: 'text', desc: false } })
    store.commit(ui.set({ sort: { by: 'due', desc: true } }))
    expect(store.query(ui.get()).sort).toEqual({ by: 'due', desc: true })
    expect(seen).toHaveLength(4)
    expect(rowCount(store, 'ui')).toEqual([{ n: 1 }])
    // other ids are other documents
    store.commit(ui.set({ page: 9 }, 'other'))
    expect(store.query(ui.get('other'))).toEqual({ ...ui.defaultValue, page: 9 })
    expect(store.query(ui.get()).page).toBe(2)
  })

  test('an invalid merged value throws and leaves state unchanged', async () => {
    const store = await open()
    store.commit(ui.set({ page: 1 }))
    const before = store.query(ui.get())
    // shallow: the nested object is replaced, so desc goes missing
    const e = thrown(() => store.commit(ui.set({ sort: { by: 'due' } as never })))
    expect(e).toBeInstanceOf(MaterializerError)
    expect((e as MaterializerError).eventName).toBe('uiSet')
    expect(e.message).toMatch(/client document "ui" gives an invalid value: sort\.desc: /)
    expect(() => store.commit(ui.set({ filter: 'bogus' as never }))).toThrow(/filter: /)
    expect(store.query(ui.get())).toEqual(before)
    // the store keeps working
    store.commit(ui.set({ filter: 'done' }))
    expect(store.query(ui.get()).filter).toBe('done')
  })

  test('SessionIdSymbol documents are per session', async () => {
    const adapter = makeInMemoryAdapter()
    const first = await open(adapter)
    expect(tab.set({ scroll: 1 }).args).toEqual({ id: null, value: { scroll: 1 } })
    first.commit(tab.set({ scroll: 120 }), ui.set({ page: 3 }))
    expect(first.query(tab.get())).toEqual({ scroll: 120 })
    expect(first.query(queryDb({ query: sql`SELECT id FROM tab` }))).toEqual([{ id: first.sessionId }])
    await first.shutdown()

    // a new session of the same client sees the client-wide document but not the old session's
    const second = await open(adapter)
    expect(second.sessionId).not.toBe(first.sessionId)
    expect(second.query(ui.get()).page).toBe(3)
    expect(second.query(tab.get(SessionIdSymbol))).toEqual({ scroll: 0 })
    expect(second.query(tab.get(first.sessionId))).toEqual({ scroll: 120 })
    second.commit(tab.set({ scroll: 5 }))
    expect(second.query(tab.get())).toEqual({ scroll: 5 })
    expect(second.query(tab.get(first.sessionId))).toEqual({ scroll: 120 })
  })

  test('a default that does not match the schema is refused at definition', () => {
    expect(() => State.SQLite.clientDocument({ name: 'bad', schema: Ui, default: { value: { filter: 'nope' } as never } })).toThrow(
      /default value of client document "bad" does not match its schema/,
    )
  })
})

describe('bad input to the schema functions', () => {
  // plain JS callers (or a wrong import) pass anything: each gets a SchemaError naming what is missing
  const untyped = <F extends (...args: never[]) => unknown>(fn: F) => fn as unknown as (...args: unknown[]) => unknown
  const id = () => text({ primaryKey: true })

  test('makeSchema without state, or without events', () => {
    expect(thrown(() => untyped(makeSchema)({ events: {} }))).toBeInstanceOf(SchemaError)
    expect(thrown(() => untyped(makeSchema)({ events: {} })).message).toMatch(/makeSchema needs state/)
    expect(thrown(() => untyped(makeSchema)({ state: State.SQLite.makeState({ tables: {}, materializers: {} }) })).message).toMatch(
      /makeSchema needs events/,
    )
    expect(thrown(() => untyped(makeSchema)())).toBeInstanceOf(SchemaError)
    expect(thrown(() => untyped(State.SQLite.makeState)({ materializers: {} })).message).toMatch(/makeState needs tables/)
  })

  test('table without columns, or without a name', () => {
    expect(thrown(() => untyped(table)({ name: 't' }))).toBeInstanceOf(SchemaError)
    expect(thrown(() => untyped(table)({ name: 't' })).message).toMatch(/Table "t" needs columns/)
    expect(thrown(() => untyped(table)({ columns: { id: id() } }))).toBeInstanceOf(SchemaError)
    expect(thrown(() => untyped(table)())).toBeInstanceOf(SchemaError)
  })

  test('clientDocument without default, or without a schema', () => {
    const schema = z.object({ a: z.number() })
    expect(thrown(() => untyped(State.SQLite.clientDocument)({ name: 'doc', schema }))).toBeInstanceOf(SchemaError)
    expect(thrown(() => untyped(State.SQLite.clientDocument)({ name: 'doc', schema })).message).toMatch(
      /Client document "doc" needs default: \{ value: \.\.\. \}/,
    )
    expect(thrown(() => untyped(State.SQLite.clientDocument)({ name: 'doc', default: { value: {} } }))).toBeInstanceOf(SchemaError)
  })

  test('Events.synced and Events.clientOnly without options', () => {
    expect(thrown(() => untyped(Events.synced)())).toBeInstanceOf(SchemaError)
    expect(thrown(() => untyped(Events.clientOnly)()).message).toMatch(/take \{ name, schema \}/)
  })

  test('column names from Object.prototype are not columns', () => {
    const t = table({ name: 't', columns: { id: id() } })
    for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      expect(thrown(() => t.where({ [name]: 'x' } as never).asSql())).toMatchObject({ code: 'InvalidColumnValue' })
      expect(thrown(() => t.insert({ id: 'a', [name]: 'x' } as never).asSql())).toMatchObject({ code: 'InvalidColumnValue' })
      expect(thrown(() => t.update({ [name]: 'x' } as never).asSql())).toMatchObject({ code: 'InvalidColumnValue' })
      expect(thrown(() => t.orderBy(name as never).asSql())).toMatchObject({ code: 'InvalidColumnValue' })
      expect(thrown(() => table({ name: 'u', columns: { id: text() }, primaryKey: [name as 'id'] }))).toBeInstanceOf(SchemaError)
    }
  })
})
