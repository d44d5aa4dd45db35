import {
  computed,
  Events,
  LiveQueryDef,
  or,
  queryDb,
  SessionIdSymbol,
  signal,
  sql,
  State,
  type ComputedDef,
  type EventInput,
  type Queryable,
  type SignalDef,
  type SqlValue,
  type Store,
} from '@cairn/core'
import * as v from 'valibot'
import { describe, expectTypeOf, test } from 'vitest'
import { z } from 'zod'

const { table, text, integer, real, boolean, json, datetime, datetimeInteger, blob } = State.SQLite

type Row = Record<string, SqlValue>

const kinds = table({
  name: 'kinds',
  columns: {
    id: integer({ primaryKey: true, autoIncrement: true }),
    name: text(),
    count: integer({ default: 0 }),
    ratio: real(),
    active: boolean({ default: false }),
    tagged: json({ schema: z.object({ tags: z.array(z.string()) }) }),
    loose: json(),
    at: datetime(),
    atMs: datetimeInteger(),
    bytes: blob(),
    note: text({ nullable: true }),
    score: real({ nullable: true }),
    seen: datetime({ nullable: true }),
    extra: json({ schema: z.object({ n: z.number() }), nullable: true }),
    created: datetimeInteger({ default: () => new Date() }),
    slug: text({ default: { sql: "'x'" } }),
  },
})

type KindsRow = {
  id: number
  name: string
  count: number
  ratio: number
  active: boolean
  tagged: { tags: string[] }
  loose: unknown
  at: Date
  atMs: Date
  bytes: Uint8Array
  note: string | null
  score: number | null
  seen: Date | null
  extra: { n: number } | null
  created: Date
  slug: string
}

const todos = table({
  name: 'todos',
  columns: {
    id: text({ primaryKey: true }),
    text: text({ default: '' }),
    completed: boolean({ default: false }),
    due: datetime({ nullable: true }),
  },
})
type Todo = { id: string; text: string; completed: boolean; due: Date | null }

describe('events', () => {
  const zodEvent = Events.synced({
    name: 'v1.Zod',
    schema: z.object({ id: z.string(), n: z.number(), tags: z.array(z.string()).optional() }),
  })
  const valibotEvent = Events.clientOnly({ name: 'Valibot', schema: v.object({ id: v.string(), done: v.boolean() }) })
  const transformed = Events.synced({ name: 'v1.Transformed', schema: z.object({ count: z.string().transform((s) => Number(s)) }) })

  test('args are inferred from a Zod schema', () => {
    expectTypeOf(zodEvent).parameter(0).toEqualTypeOf<{ id: string; n: number; tags?: string[] | undefined }>()
    expectTypeOf(zodEvent({ id: 'a', n: 1 })).toEqualTypeOf<EventInput<'v1.Zod', { id: string; n: number; tags?: string[] | undefined }>>()
    expectTypeOf(zodEvent.eventName).toEqualTypeOf<'v1.Zod'>()
    expectTypeOf(zodEvent.clientOnly).toEqualTypeOf<false>()
    // @ts-expect-error n must be a number
    zodEvent({ id: 'a', n: '1' })
    // @ts-expect-error n is missing
    zodEvent({ id: 'a' })
    // @ts-expect-error unknown field
    zodEvent({ id: 'a', n: 1, nope: true })
  })

  test('args are inferred from a Valibot schema', () => {
    expectTypeOf(valibotEvent).parameter(0).toEqualTypeOf<{ id: string; done: boolean }>()
    expectTypeOf(valibotEvent.clientOnly).toEqualTypeOf<true>()
    // @ts-expect-error done must be a boolean
    valibotEvent({ id: 'a', done: 'yes' })
    // @ts-expect-error done is missing
    valibotEvent({ id: 'a' })
  })

  test('callers pass the schema input, materializers receive the schema output', () => {
    expectTypeOf(transformed).parameter(0).toEqualTypeOf<{ count: string }>()
    expectTypeOf(transformed({ count: '3' }).args).toEqualTypeOf<{ count: number }>()
    const events = { zodEvent, valibotEvent, transformed }
    State.SQLite.materializers(events, {
      'v1.Zod': (args) => {
        expectTypeOf(args).toEqualTypeOf<{ id: string; n: number; tags?: string[] | undefined }>()
      },
      Valibot: (args, ctx) => {
        expectTypeOf(args).toEqualTypeOf<{ id: string; done: boolean }>()
        expectTypeOf(ctx.event.sessionId).toEqualTypeOf<string>()
      },
      'v1.Transformed': ({ count }) => {
        expectTypeOf(count).toEqualTypeOf<number>()
      },
    })
  })

  test('materializers must cover exactly the events, with matching arg usage', () => {
    const events = { zodEvent, valibotEvent }
    State.SQLite.materializers(events, {
      'v1.Zod': () => {},
      Valibot: () => {},
      // @ts-expect-error no event is named v1.Nope
      'v1.Nope': () => {},
    })
    // @ts-expect-error the materializer of Valibot is missing
    State.SQLite.materializers(events, { 'v1.Zod': () => {} })
    State.SQLite.materializers(events, {
      // @ts-expect-error args have no field text
      'v1.Zod': ({ text }) => todos.insert({ id: 'a', text }),
      Valibot: () => {},
    })
    State.SQLite.materializers(events, {
      'v1.Zod': ({ id }) => todos.insert({ id }),
      Valibot: ({ id, done }) => todos.update({ completed: done }).where({ id }),
    })
  })

  test('ctx.query reads typed results inside a materializer', () => {
    State.SQLite.materializers(
      { zodEvent },
      {
        'v1.Zod': ({ id }, ctx) => {
          expectTypeOf(ctx.query(todos.where({ id }).first())).toEqualTypeOf<Todo | undefined>()
          expectTypeOf(ctx.query(todos.count())).toEqualTypeOf<number>()
          expectTypeOf(ctx.query({ query: sql`SELECT 1` })).toEqualTypeOf<Row[]>()
          expectTypeOf(ctx.query(todos.delete().where({ id }).returning('id'))).toEqualTypeOf<{ id: string }[]>()
          return [todos.insert({ id }), { sql: 'DELETE FROM todos WHERE id = ?', bindValues: [id] }, sql`SELECT ${id}`]
        },
      },
    )
  })
})

describe('event versions', () => {
  const v1 = Events.synced({ name: 'v1.Added', schema: z.object({ id: z.string(), n: z.string().transform(Number) }) })

  test("migrate receives the older version's output and returns the newer version's input", () => {
    const v2 = Events.synced({
      name: 'v2.Added',
      schema: z.object({ id: z.string(), n: z.number(), unit: z.string() }),
      from: v1,
      migrate: (args) => {
        expectTypeOf(args).toEqualTypeOf<{ id: string; n: number }>()
        return { ...args, unit: 'kg' }
      },
    })
    expectTypeOf(v2).parameter(0).toEqualTypeOf<{ id: string; n: number; unit: string }>()
    Events.synced({
      name: 'v2.Added',
      schema: z.object({ id: z.string(), n: z.number(), unit: z.string() }),
      from: v1,
      // @ts-expect-error unit is missing from what migrate returns
      migrate: (args) => ({ ...args }),
    })
  })
})

describe('table row types', () => {
  test('every column kind decodes to its JS type; nullable adds null', () => {
    expectTypeOf(kinds.Row).toEqualTypeOf<KindsRow>()
    expectTypeOf(todos.Row).toEqualTypeOf<Todo>()
    expectTypeOf(kinds.Row.loose).toBeUnknown()
    expectTypeOf(kinds.Row.tagged.tags).toEqualTypeOf<string[]>()
  })

  test('a json column is typed by a Valibot schema too', () => {
    const t = table({ name: 't', columns: { id: text({ primaryKey: true }), v: json({ schema: v.object({ a: v.number() }) }) } })
    expectTypeOf(t.Row).toEqualTypeOf<{ id: string; v: { a: number } }>()
  })
})

describe('insert', () => {
  test('defaulted, nullable and auto-increment columns are optional; the rest required', () => {
    expectTypeOf(kinds.Insert).toEqualTypeOf<{
      name: string
      ratio: number
      tagged: { tags: string[] }
      loose: unknown
      at: Date
      atMs: Date
      bytes: Uint8Array
      id?: number
      count?: number
      active?: boolean
      note?: string | null
      score?: number | null
      seen?: Date | null
      extra?: { n: number } | null
      created?: Date
      slug?: string
    }>()
    expectTypeOf(todos.Insert).toEqualTypeOf<{ id: string; text?: string; completed?: boolean; due?: Date | null }>()
    todos.insert({ id: 'a' })
    todos.insert([{ id: 'a' }, { id: 'b', completed: true, due: null }])
  })

  test('bad inserts fail', () => {
    // @ts-expect-error id is required
    todos.insert({ text: 'x' })
    // @ts-expect-error unknown column
    todos.insert({ id: 'a', nope: 1 })
    // @ts-expect-error completed is a boolean
    todos.insert({ id: 'a', completed: 1 })
    // @ts-expect-error id is not nullable
    todos.insert({ id: null })
    // @ts-expect-error due is a Date
    todos.insert({ id: 'a', due: '2024-01-01' })
    // @ts-expect-error the json column's schema wants string tags
    kinds.insert({ name: 'n', ratio: 1, tagged: { tags: [1] }, loose: 1, at: new Date(), atMs: new Date(), bytes: new Uint8Array() })
  })

  test('onConflict and returning take column names', () => {
    todos.insert({ id: 'a' }).onConflict('id', 'update', { text: 'x' })
    // @ts-expect-error unknown conflict target
    todos.insert({ id: 'a' }).onConflict('nope', 'ignore')
    // @ts-expect-error update needs the columns to set
    todos.insert({ id: 'a' }).onConflict('id', 'update')
    // @ts-expect-error set value of the wrong type
    todos.insert({ id: 'a' }).onConflict('id', 'update', { completed: 'yes' })
    expectTypeOf(todos.insert({ id: 'a' }).returning('id', 'completed')['~result']).toEqualTypeOf<
      { id: string; completed: boolean }[] | undefined
    >()
    // @ts-expect-error unknown column in returning
    todos.insert({ id: 'a' }).returning('nope')
  })
})

describe('query builder', () => {
  test('unknown columns fail in where, orderBy, select and update', () => {
    // @ts-expect-error unknown column
    todos.where({ nope: 1 })
    // @ts-expect-error unknown column
    todos.where('nope', 1)
    // @ts-expect-error unknown column
    todos.where('nope', '>', 1)
    // @ts-expect-error unknown column
    todos.orderBy('nope')
    // @ts-expect-error unknown column
    todos.select('nope')
    // @ts-expect-error unknown column
    todos.update({ nope: 1 })
    // @ts-expect-error unknown column
    todos.update({ completed: true }).where({ nope: 1 })
    // @ts-expect-error unknown direction
    todos.orderBy('text', 'up')
  })

  test('where values must match the column type', () => {
    todos.where({ completed: false, due: null, text: { op: 'LIKE', value: '%a%' } })
    todos.where({ id: { op: 'IN', value: ['a', 'b'] } })
    todos.where('due', '<', new Date())
    todos.where('id', 'NOT IN', ['a'])
    todos.where('text', null)
    // @ts-expect-error completed is a boolean
    todos.where({ completed: 'no' })
    // @ts-expect-error completed is a boolean
    todos.where('completed', 1)
    // @ts-expect-error due compares with a Date
    todos.where('due', '<', 5)
    // @ts-expect-error IN takes an array
    todos.where('id', 'IN', 'a')
    // @ts-expect-error IN values must match the column
    todos.where({ id: { op: 'IN', value: [1] } })
    // @ts-expect-error unknown operator
    todos.where('id', 'GLOB', 'a*')
    // @ts-expect-error a delete's where checks value types too
    todos.delete().where({ completed: 'no' })
    // @ts-expect-error in every form
    todos.update({ text: 'x' }).where('completed', '=', 'no')
    // @ts-expect-error IN takes an array of column values
    todos.delete().where('id', 'IN', [1])
    todos.delete().where('id', 'IN', ['a', 'b'])
    todos.update({ text: 'x' }).where('due', '<', new Date())
  })

  test('or() is checked against the table', () => {
    todos.where(or({ completed: true }, { text: { op: 'LIKE', value: '%x%' } }))
    // @ts-expect-error unknown column inside or()
    todos.where(or({ completed: true }, { nope: 1 }))
    // @ts-expect-error wrong value type inside or()
    todos.where(or({ completed: 'yes' }))
  })

  test('result types of the read modes', () => {
    expectTypeOf(todos['~result']).toEqualTypeOf<Todo[] | undefined>()
    expectTypeOf(todos.where({ completed: false }).first()['~result']).toEqualTypeOf<Todo | undefined>()
    expectTypeOf(todos.first({ fallback: () => null })['~result']).toEqualTypeOf<Todo | null | undefined>()
    expectTypeOf(todos.first({ fallback: () => 'none' as const })['~result']).toEqualTypeOf<Todo | 'none' | undefined>()
    expectTypeOf(todos.where({ completed: true }).count()['~result']).toEqualTypeOf<number | undefined>()
    expectTypeOf(todos.select('id')['~result']).toEqualTypeOf<{ id: string }[] | undefined>()
    expectTypeOf(todos.select('id', 'due').first()['~result']).toEqualTypeOf<{ id: string; due: Date | null } | undefined>()
    const refined = todos.where({ completed: false }).orderBy('text').limit(5).offset(2)
    expectTypeOf(refined['~result']).toEqualTypeOf<Todo[] | undefined>()
    // a refined builder is not the table: it has no name, columns or Row at runtime
    expectTypeOf(refined).not.toHaveProperty('name')
    expectTypeOf(refined).not.toHaveProperty('columns')
  })
})

describe('queryDb, computed, signal, store.query', () => {
  const zRows = z.array(z.object({ completed: z.number(), n: z.number() }))

  test('queryDb of a builder is a LiveQueryDef of its result', () => {
    expectTypeOf(queryDb(todos)).toEqualTypeOf<LiveQueryDef<Todo[]>>()
    expectTypeOf(queryDb(todos.where({ completed: false }).orderBy('text'), { label: 'open' })).toEqualTypeOf<LiveQueryDef<Todo[]>>()
    expectTypeOf(queryDb(todos.where({ id: 'a' }).first())).toEqualTypeOf<LiveQueryDef<Todo | undefined>>()
    expectTypeOf(queryDb(todos.count())).toEqualTypeOf<LiveQueryDef<number>>()
    expectTypeOf(queryDb(todos.select('id'))).toEqualTypeOf<LiveQueryDef<{ id: string }[]>>()
    expectTypeOf(queryDb(todos, { map: (rows) => rows.length })).toEqualTypeOf<LiveQueryDef<number>>()
    const flag$ = signal(false)
    expectTypeOf(queryDb((get) => todos.where({ completed: get(flag$) }))).toEqualTypeOf<LiveQueryDef<Todo[]>>()
  })

  test('raw queries are typed by their schema', () => {
    expectTypeOf(queryDb({ query: sql`SELECT completed, count(*) AS n FROM todos GROUP BY 1`, schema: zRows })).toEqualTypeOf<
      LiveQueryDef<{ completed: number; n: number }[]>
    >()
    expectTypeOf(queryDb({ query: 'SELECT 1 AS one', schema: v.array(v.object({ one: v.number() })) })).toEqualTypeOf<
      LiveQueryDef<{ one: number }[]>
    >()
    // @ts-expect-error bind values are SQL values
    queryDb({ query: 'SELECT ?', bindValues: [{ a: 1 }] })
  })

  // Fails (bug in core/src/reactive/query-def.ts, Result<Q>): without a schema nothing infers T of
  // RawQuery<infer T>, so the def is LiveQueryDef<unknown> instead of LiveQueryDef<Row[]>.
  test('raw queries without a schema are rows', () => {
    expectTypeOf(queryDb({ query: 'SELECT * FROM todos WHERE id = ?', bindValues: ['a'] })).toEqualTypeOf<LiveQueryDef<Row[]>>()
    expectTypeOf(queryDb({ query: sql`SELECT * FROM todos` })).toEqualTypeOf<LiveQueryDef<Row[]>>()
  })

  test('computed and signal carry their value types', () => {
    const open$ = queryDb(todos.where({ completed: false }))
    const selectedId$ = signal<string | null>(null, { label: 'selectedId' })
    expectTypeOf(selectedId$).toEqualTypeOf<SignalDef<string | null>>()
    expectTypeOf(signal(0)).toEqualTypeOf<SignalDef<number>>()
    const selected$ = computed((get) => get(open$).find((t) => t.id === get(selectedId$)) ?? null)
    expectTypeOf(selected$).toEqualTypeOf<ComputedDef<Todo | null>>()
    expectTypeOf(computed((get) => get(open$).length)).toEqualTypeOf<ComputedDef<number>>()
  })

  test('computed over a list of definitions gets their values in order, typed', () => {
    const open$ = queryDb(todos.where({ completed: false }))
    const selectedId$ = signal<string | null>(null)
    const count$ = computed((get) => get(open$).length)
    const selected$ = computed([open$, selectedId$, count$], ([open, id, count]) => {
      expectTypeOf(open).toEqualTypeOf<Todo[]>()
      expectTypeOf(id).toEqualTypeOf<string | null>()
      expectTypeOf(count).toEqualTypeOf<number>()
      return open.find((t) => t.id === id) ?? null
    })
    expectTypeOf(selected$).toEqualTypeOf<ComputedDef<Todo | null>>()
    // @ts-expect-error the values come in the list's order: the second is a string | null, not a number
    computed([open$, selectedId$], ([, id]): number => id)
    // @ts-expect-error the list holds definitions only
    computed([open$, 42], ([open]) => open)
  })

  test('store.query and store.subscribe return the definition type', () => {
    const store = {} as Store
    const open$ = queryDb(todos.where({ completed: false }))
    const count$ = queryDb(todos.count())
    const id$ = signal<string | null>(null)
    const one$ = computed((get) => get(open$)[0])
    expectTypeOf(store.query(open$)).toEqualTypeOf<Todo[]>()
    expectTypeOf(store.query(count$)).toEqualTypeOf<number>()
    expectTypeOf(store.query(id$)).toEqualTypeOf<string | null>()
    expectTypeOf(store.query(one$)).toEqualTypeOf<Todo | undefined>()
    expectTypeOf(store.query(todos.where({ id: 'a' }).first())).toEqualTypeOf<Todo | undefined>()
    store.subscribe(open$, (rows) => expectTypeOf(rows).toEqualTypeOf<Todo[]>())
    store.setSignal(id$, 'a')
    // @ts-expect-error commit takes events, not writes
    store.commit(todos.insert({ id: 'a' }))
    // @ts-expect-error the signal holds string | null
    store.setSignal(id$, 1)
  })
})

describe('clientDocument', () => {
  const ui = State.SQLite.clientDocument({
    name: 'ui',
    schema: z.object({ filter: z.enum(['all', 'done']), page: z.number() }),
    default: { value: { filter: 'all', page: 0 } },
  })
  type Ui = { filter: 'all' | 'done'; page: number }

  test('get() is typed by the schema', () => {
    expectTypeOf(ui.get()).toEqualTypeOf<Queryable<Ui>>()
    expectTypeOf(ui.get(SessionIdSymbol)).toEqualTypeOf<Queryable<Ui>>()
    expectTypeOf(queryDb(ui.get())).toEqualTypeOf<LiveQueryDef<Ui>>()
    expectTypeOf(ui.defaultValue).toEqualTypeOf<Ui>()
  })

  test('set() takes a partial value', () => {
    expectTypeOf(ui.set({ filter: 'done' })).toEqualTypeOf<
      EventInput<'uiSet', { readonly id: string | null; readonly value: Record<string, unknown> }>
    >()
    ui.set({})
    ui.set({ page: 2 }, 'other')
    ui.set({ page: 2 }, SessionIdSymbol)
    // @ts-expect-error not a value of the enum
    ui.set({ filter: 'bogus' })
    // @ts-expect-error unknown field
    ui.set({ nope: 1 })
    // @ts-expect-error the id is a string or SessionIdSymbol
    ui.set({ page: 1 }, 3)
  })

  test('the default must match the schema', () => {
    State.SQLite.clientDocument({
      name: 'bad',
      schema: z.object({ filter: z.enum(['all', 'done']) }),
      // @ts-expect-error not a value of the enum
      default: { value: { filter: 'nope' } },
    })
  })
})
