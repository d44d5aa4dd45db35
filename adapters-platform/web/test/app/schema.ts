import { Events, makeSchema, State } from '@cairn/core'
import { z } from 'zod'

export const events = {
  todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: z.object({ id: z.string(), text: z.string() }) }),
  todoRenamed: Events.synced({ name: 'v1.TodoRenamed', schema: z.object({ id: z.string(), text: z.string() }) }),
}

export const tables = {
  todos: State.SQLite.table({
    name: 'todos',
    columns: { id: State.SQLite.text({ primaryKey: true }), text: State.SQLite.text({ default: '' }) },
  }),
  // client-only: shared by the tabs of one browser profile, never synced
  ui: State.SQLite.clientDocument({ name: 'ui', schema: z.object({ filter: z.string() }), default: { value: { filter: 'all' } } }),
}

const materializers = State.SQLite.materializers(events, {
  'v1.TodoCreated': ({ id, text }) => tables.todos.insert({ id, text }),
  'v1.TodoRenamed': ({ id, text }) => tables.todos.update({ text }).where({ id }),
})

export const schema = makeSchema({ events, state: State.SQLite.makeState({ tables, materializers }) })
