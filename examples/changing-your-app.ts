import {
  createStorePromise,
  Events,
  makeInMemoryAdapter,
  makeSchema,
  queryDb,
  State,
  type Adapter,
  type Schema,
  type Store,
} from '@cairn/core'
import { makeInMemorySyncServer } from '@cairn/core/testing'
import { z } from 'zod'

// Release 1: todos with a text.
const todoCreated = Events.synced({ name: 'v1.TodoCreated', schema: z.object({ id: z.string(), text: z.string() }) })
const todos1 = State.SQLite.table({
  name: 'todos',
  columns: { id: State.SQLite.text({ primaryKey: true }), text: State.SQLite.text() },
})
export const release1 = makeSchema({
  events: { todoCreated },
  state: State.SQLite.makeState({
    tables: { todos: todos1 },
    materializers: State.SQLite.materializers({ todoCreated }, { 'v1.TodoCreated': ({ id, text }) => todos1.insert({ id, text }) }),
  }),
})

// Release 2: a new column (its default fills the rows of older events), a new table, new events.
const todos = State.SQLite.table({
  name: 'todos',
  columns: {
    id: State.SQLite.text({ primaryKey: true }),
    text: State.SQLite.text(),
    done: State.SQLite.boolean({ default: false }),
  },
})
const tags = State.SQLite.table({
  name: 'tags',
  columns: { todoId: State.SQLite.text(), tag: State.SQLite.text() },
  primaryKey: ['todoId', 'tag'],
})
const todoCompleted = Events.synced({ name: 'v1.TodoCompleted', schema: z.object({ id: z.string() }) })
const todoTagged = Events.synced({ name: 'v1.TodoTagged', schema: z.object({ id: z.string(), tag: z.string() }) })
const events2 = { todoCreated, todoCompleted, todoTagged }
const materializers2 = State.SQLite.materializers(events2, {
  'v1.TodoCreated': ({ id, text }) => todos.insert({ id, text }),
  'v1.TodoCompleted': ({ id }) => todos.update({ done: true }).where({ id }),
  'v1.TodoTagged': ({ id, tag }) => tags.insert({ todoId: id, tag }).onConflict(['todoId', 'tag'], 'ignore'),
})
export const release2 = makeSchema({
  events: events2,
  state: State.SQLite.makeState({ tables: { todos, tags }, materializers: materializers2 }),
})

// Release 3: same tables and events, new logic for one event: texts are stored trimmed.
export const release3 = makeSchema({
  events: events2,
  state: State.SQLite.makeState({
    tables: { todos, tags },
    materializers: State.SQLite.materializers(events2, {
      ...materializers2,
      'v1.TodoCreated': ({ id, text }) => todos.insert({ id, text: text.trim() }),
    }),
  }),
})

// Release 4: a todo gets a priority. v1.TodoCreated stays readable forever: its events keep
// their name and JSON in the log and reach the v2 materializer through migrate.
const todoCreatedV2 = Events.synced({
  name: 'v2.TodoCreated',
  schema: z.object({ id: z.string(), text: z.string(), priority: z.number().int().min(0).max(3) }),
  from: todoCreated,
  migrate: ({ id, text }) => ({ id, text, priority: text.endsWith('!') ? 3 : 0 }),
})
const todos4 = State.SQLite.table({
  name: 'todos',
  columns: {
    id: State.SQLite.text({ primaryKey: true }),
    text: State.SQLite.text(),
    done: State.SQLite.boolean({ default: false }),
    priority: State.SQLite.integer({ default: 0 }),
  },
})
const events4 = { todoCreated: todoCreatedV2, todoCompleted, todoTagged }
export const release4 = makeSchema({
  events: events4,
  state: State.SQLite.makeState({
    tables: { todos: todos4, tags },
    materializers: State.SQLite.materializers(events4, {
      'v2.TodoCreated': ({ id, text, priority }) => todos4.insert({ id, text: text.trim(), priority }),
      'v1.TodoCompleted': ({ id }) => todos4.update({ done: true }).where({ id }),
      'v1.TodoTagged': materializers2['v1.TodoTagged'],
    }),
  }),
})

// The other way: a new event name, the old event kept with its own materializer.
const todoAdded = Events.synced({ name: 'v1.TodoAdded', schema: z.object({ id: z.string(), text: z.string(), priority: z.number() }) })
const eventsBoth = { todoCreated, todoAdded, todoCompleted, todoTagged }
export const release4b = makeSchema({
  events: eventsBoth,
  state: State.SQLite.makeState({
    tables: { todos: todos4, tags },
    materializers: State.SQLite.materializers(eventsBoth, {
      'v1.TodoCreated': ({ id, text }) => todos4.insert({ id, text: text.trim() }),
      'v1.TodoAdded': ({ id, text, priority }) => todos4.insert({ id, text: text.trim(), priority }),
      'v1.TodoCompleted': ({ id }) => todos4.update({ done: true }).where({ id }),
      'v1.TodoTagged': materializers2['v1.TodoTagged'],
    }),
  }),
})

const rows = queryDb({ query: 'SELECT * FROM todos ORDER BY id' })
/** The todos as `id "text" done p3`. */
const show = (store: Store) =>
  store
    .query(rows)
    .map((t) =>
      [t.id, JSON.stringify(t.text), t.done ? 'done' : '', t.priority === undefined ? '' : `p${t.priority}`].filter(Boolean).join(' '),
    )
    .join(', ')
const open = (schema: Schema, adapter: Adapter, log: (line: string) => void) =>
  createStorePromise({
    schema,
    adapter,
    storeId: 'todos',
    onBootStatus: ({ stage, progress }) => {
      if (stage === 'rehydrating' && progress !== undefined && progress.total > 0 && progress.done === progress.total)
        log(`rebuilt from ${progress.total} events`)
    },
  })

/** Runs each release in turn on the same storage (a restart with the new code), printing the todos. */
export async function releases(log: (line: string) => void): Promise<void> {
  const adapter = makeInMemoryAdapter()
  const one = await open(release1, adapter, log)
  one.commit(todoCreated({ id: 'a', text: ' Buy milk ' }), todoCreated({ id: 'b', text: 'Call mom!' }))
  await one.shutdown()

  const two = await open(release2, adapter, log)
  two.commit(todoCompleted({ id: 'a' }), todoTagged({ id: 'a', tag: 'home' }))
  log(`release 2: ${show(two)}`)
  await two.shutdown()

  const three = await open(release3, adapter, log)
  log(`release 3: ${show(three)}`)
  await three.shutdown()

  const four = await open(release4, adapter, log)
  four.commit(todoCreatedV2({ id: 'c', text: 'Water plants', priority: 1 }))
  log(`release 4: ${show(four)}`)
  await four.shutdown()

  const other = await open(release4b, makeInMemoryAdapter(), log)
  other.commit(todoCreated({ id: 'a', text: 'Old event' }), todoAdded({ id: 'b', text: 'New event', priority: 2 }))
  log(`release 4b: ${show(other)}`)
  await other.shutdown()
}

/** An old release syncing with a new one, then upgraded. */
export async function oldClients(log: (line: string) => void): Promise<void> {
  const server = makeInMemorySyncServer()
  const oldDevice = makeInMemoryAdapter()
  const sync = () => ({ backend: server.backend() })
  const old = await createStorePromise({ schema: release3, adapter: oldDevice, storeId: 'todos', sync: sync() })
  const current = await createStorePromise({ schema: release4, adapter: makeInMemoryAdapter(), storeId: 'todos', sync: sync() })
  old.commit(todoCreated({ id: 'a', text: 'From release 3!' }))
  current.commit(todoCreatedV2({ id: 'b', text: 'From release 4', priority: 2 }))
  await server.settled([old, current])
  log(`release 3 shows: ${show(old)}`) // it kept v2.TodoCreated in its log, and skipped it
  await old.shutdown()

  const upgraded = await createStorePromise({ schema: release4, adapter: oldDevice, storeId: 'todos', sync: sync() })
  log(`upgraded: ${show(upgraded)}`)
  log(`same rows as release 4: ${show(upgraded) === show(current)}`)
  await upgraded.shutdown()
  await current.shutdown()
}
