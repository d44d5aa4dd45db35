import { Events, makeSchema, State } from '@cairn/core'
import { z } from 'zod'

/** A small app: todos with create/rename/complete, and a counter whose result depends on event order. */
export const events = {
  todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: z.object({ id: z.string(), text: z.string() }) }),
  todoRenamed: Events.synced({ name: 'v1.TodoRenamed', schema: z.object({ id: z.string(), text: z.string() }) }),
  todoCompleted: Events.synced({ name: 'v1.TodoCompleted', schema: z.object({ id: z.string() }) }),
  counted: Events.synced({ name: 'v1.Counted', schema: z.object({ id: z.string() }) }),
  draftChanged: Events.clientOnly({ name: 'DraftChanged', schema: z.object({ text: z.string() }) }),
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
  stats: State.SQLite.table({ name: 'stats', columns: { id: State.SQLite.text({ primaryKey: true }), n: State.SQLite.integer() } }),
  drafts: State.SQLite.table({
    name: 'drafts',
    clientOnly: true,
    columns: { id: State.SQLite.text({ primaryKey: true }), text: State.SQLite.text() },
  }),
}

export const materializers = State.SQLite.materializers(events, {
  'v1.TodoCreated': ({ id, text }) => tables.todos.insert({ id, text }).onConflict('id', 'ignore'),
  'v1.TodoRenamed': ({ id, text }) => tables.todos.update({ text }).where({ id }),
  'v1.TodoCompleted': ({ id }) => tables.todos.update({ completed: true }).where({ id }),
  'v1.Counted': ({ id }, ctx) => tables.stats.insert({ id, n: ctx.query(tables.todos.count()) }).onConflict('id', 'replace'),
  DraftChanged: ({ text }) => tables.drafts.insert({ id: 'current', text }).onConflict('id', 'replace'),
})

export const schema = makeSchema({ events, state: State.SQLite.makeState({ tables, materializers }) })
