import { Events, makeSchema, State } from '@cairn/core'
import { z } from 'zod'

export const events = {
  todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: z.object({ id: z.string(), text: z.string() }) }),
}

export const tables = {
  todos: State.SQLite.table({
    name: 'todos',
    columns: { id: State.SQLite.text({ primaryKey: true }), text: State.SQLite.text({ default: '' }) },
  }),
}

const materializers = State.SQLite.materializers(events, {
  'v1.TodoCreated': ({ id, text }) => tables.todos.insert({ id, text }),
})

export const schema = makeSchema({ events, state: State.SQLite.makeState({ tables, materializers }) })
