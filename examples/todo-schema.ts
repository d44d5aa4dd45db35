import { Events, makeSchema, State } from '@cairn/core'
import { z } from 'zod'

export const events = {
  todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: z.object({ id: z.string(), text: z.string() }) }),
  todoCompleted: Events.synced({ name: 'v1.TodoCompleted', schema: z.object({ id: z.string() }) }),
  todoDeleted: Events.synced({ name: 'v1.TodoDeleted', schema: z.object({ id: z.string() }) }),
  draftChanged: Events.clientOnly({ name: 'DraftChanged', schema: z.object({ text: z.string() }) }),
}

export const tables = {
  todos: State.SQLite.table({
    name: 'todos',
    columns: {
      id: State.SQLite.text({ primaryKey: true }),
      text: State.SQLite.text({ default: '' }),
      completed: State.SQLite.boolean({ default: false }),
      createdAt: State.SQLite.datetime({ nullable: true }),
      meta: State.SQLite.json({ schema: z.object({ tags: z.array(z.string()) }), nullable: true }),
    },
    indexes: [{ name: 'todos_completed_text', columns: ['completed', 'text'] }],
  }),
  drafts: State.SQLite.table({
    name: 'drafts',
    clientOnly: true,
    columns: { id: State.SQLite.text({ primaryKey: true }), text: State.SQLite.text() },
  }),
  ui: State.SQLite.clientDocument({
    name: 'ui',
    schema: z.object({ filter: z.enum(['all', 'open', 'done']) }),
    default: { value: { filter: 'all' } },
  }),
}

const materializers = State.SQLite.materializers(events, {
  'v1.TodoCreated': ({ id, text }) => tables.todos.insert({ id, text }),
  'v1.TodoCompleted': ({ id }) => tables.todos.update({ completed: true }).where({ id }),
  'v1.TodoDeleted': ({ id }) => tables.todos.delete().where({ id }),
  DraftChanged: ({ text }) => tables.drafts.insert({ id: 'current', text }).onConflict('id', 'replace'),
})

export const schema = makeSchema({ events, state: State.SQLite.makeState({ tables, materializers }) })
