import { createStorePromise, Events, makeInMemoryAdapter, makeSchema, State, type Adapter } from '@cairn/core'
import { z } from 'zod'

export const events = {
  todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: z.object({ id: z.string(), text: z.string() }) }),
  todoCompleted: Events.synced({ name: 'v1.TodoCompleted', schema: z.object({ id: z.string() }) }),
  todoRenamed: Events.synced({ name: 'v1.TodoRenamed', schema: z.object({ id: z.string(), text: z.string() }) }),
  noteAdded: Events.synced({ name: 'v1.NoteAdded', schema: z.object({ id: z.string(), body: z.string() }) }),
  draftChanged: Events.clientOnly({ name: 'DraftChanged', schema: z.object({ text: z.string() }) }),
  badClientWrite: Events.clientOnly({ name: 'BadClientWrite', schema: z.object({ id: z.string() }) }),
  boom: Events.synced({ name: 'v1.Boom', schema: z.object({ message: z.string() }) }),
  counted: Events.synced({ name: 'v1.Counted', schema: z.object({ id: z.string() }) }),
}

export const tables = {
  todos: State.SQLite.table({
    name: 'todos',
    columns: {
      id: State.SQLite.text({ primaryKey: true }),
      text: State.SQLite.text({ default: '' }),
      completed: State.SQLite.boolean({ default: false }),
    },
    indexes: [{ name: 'todos_completed_text', columns: ['completed', 'text'] }],
  }),
  notes: State.SQLite.table({
    name: 'notes',
    columns: { id: State.SQLite.text({ primaryKey: true }), body: State.SQLite.text() },
  }),
  stats: State.SQLite.table({
    name: 'stats',
    columns: { id: State.SQLite.text({ primaryKey: true }), n: State.SQLite.integer() },
  }),
  drafts: State.SQLite.table({
    name: 'drafts',
    clientOnly: true,
    columns: { id: State.SQLite.text({ primaryKey: true }), text: State.SQLite.text() },
  }),
  ui: State.SQLite.clientDocument({
    name: 'ui',
    schema: z.object({ filter: z.enum(['all', 'open', 'done']), search: z.string() }),
    default: { value: { filter: 'all', search: '' } },
  }),
}

export const materializers = State.SQLite.materializers(events, {
  'v1.TodoCreated': ({ id, text }) => tables.todos.insert({ id, text }),
  'v1.TodoCompleted': ({ id }) => tables.todos.update({ completed: true }).where({ id }),
  'v1.TodoRenamed': ({ id, text }) => tables.todos.update({ text }).where({ id }),
  'v1.NoteAdded': ({ id, body }) => tables.notes.insert({ id, body }),
  DraftChanged: ({ text }) => tables.drafts.insert({ id: 'current', text }).onConflict('id', 'replace'),
  BadClientWrite: ({ id }) => tables.todos.insert({ id, text: 'from a client-only event' }),
  'v1.Boom': ({ message }) => {
    throw new Error(message)
  },
  // reads state inside the transaction: counts todos at the time of the event
  'v1.Counted': ({ id }, ctx) => {
    const n = ctx.query(tables.todos.count())
    return tables.stats.insert({ id, n }).onConflict('id', 'replace')
  },
})

export const schema = makeSchema({ events, state: State.SQLite.makeState({ tables, materializers }) })

export function makeStore(options: { adapter?: Adapter; storeId?: string; onError?: (e: unknown) => void } = {}) {
  return createStorePromise({
    schema,
    adapter: options.adapter ?? makeInMemoryAdapter(),
    storeId: options.storeId ?? 'test',
    onError:
      options.onError ??
      ((e) => {
        throw e
      }),
  })
}
