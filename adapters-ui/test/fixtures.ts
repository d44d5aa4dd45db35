import { createStorePromise, Events, makeInMemoryAdapter, makeSchema, queryDb, State, type CreateStoreOptions } from '@cairn/core'
import { z } from 'zod'

export const events = {
  todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: z.object({ id: z.string(), text: z.string() }) }),
  todoCompleted: Events.synced({ name: 'v1.TodoCompleted', schema: z.object({ id: z.string() }) }),
  todoRenamed: Events.synced({ name: 'v1.TodoRenamed', schema: z.object({ id: z.string(), text: z.string() }) }),
  noteAdded: Events.synced({ name: 'v1.NoteAdded', schema: z.object({ id: z.string(), body: z.string() }) }),
}

export const tables = {
  todos: State.SQLite.table({
    name: 'todos',
    columns: {
      id: State.SQLite.text({ primaryKey: true }),
      text: State.SQLite.text({ default: '' }),
      completed: State.SQLite.boolean({ default: false }),
    },
  }),
  notes: State.SQLite.table({
    name: 'notes',
    columns: { id: State.SQLite.text({ primaryKey: true }), body: State.SQLite.text() },
  }),
  ui: State.SQLite.clientDocument({
    name: 'ui',
    schema: z.object({ filter: z.enum(['all', 'done']), search: z.string() }),
    default: { value: { filter: 'all', search: '' } },
  }),
}

const materializers = State.SQLite.materializers(events, {
  'v1.TodoCreated': ({ id, text }) => tables.todos.insert({ id, text }),
  'v1.TodoCompleted': ({ id }) => tables.todos.update({ completed: true }).where({ id }),
  'v1.TodoRenamed': ({ id, text }) => tables.todos.update({ text }).where({ id }),
  'v1.NoteAdded': ({ id, body }) => tables.notes.insert({ id, body }),
})

export const schema = makeSchema({ events, state: State.SQLite.makeState({ tables, materializers }) })

/** Only the texts: completing a todo re-runs it with an equal result. */
export const texts$ = queryDb(tables.todos.select('text').orderBy('id'), { label: 'texts' })
export const notes$ = queryDb(tables.notes.select('body').orderBy('id'), { label: 'notes' })
/** Fails once a todo's text is longer than 5 characters. */
export const short$ = queryDb(
  { query: 'SELECT text FROM todos ORDER BY id', schema: z.array(z.object({ text: z.string().max(5) })) },
  { label: 'short' },
)

/** How every harness view prints its value: rows as `a,b`, objects as JSON. */
export function show(value: unknown): string {
  if (Array.isArray(value))
    return value.map((row) => (typeof row === 'object' && row !== null ? Object.values(row).join(':') : String(row))).join(',')
  return typeof value === 'object' ? JSON.stringify(value) : String(value)
}

export function makeStore(options: Partial<CreateStoreOptions<typeof schema>> = {}) {
  return createStorePromise({
    schema,
    adapter: makeInMemoryAdapter(),
    storeId: 'ui-test',
    onError: (e) => {
      throw e
    },
    ...options,
  })
}
