import { Events, makeSchema, queryDb, State } from '@cairn/core'
import { z } from 'zod'

export const events = {
  todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: z.object({ id: z.string(), text: z.string() }) }),
  todoCompleted: Events.synced({ name: 'v1.TodoCompleted', schema: z.object({ id: z.string() }) }),
}

export const todos = State.SQLite.table({
  name: 'todos',
  columns: {
    id: State.SQLite.text({ primaryKey: true }),
    text: State.SQLite.text({ default: '' }),
    completed: State.SQLite.boolean({ default: false }),
  },
})

export const schema = makeSchema({
  events,
  state: State.SQLite.makeState({
    tables: { todos },
    materializers: State.SQLite.materializers(events, {
      'v1.TodoCreated': ({ id, text }) => todos.insert({ id, text }),
      'v1.TodoCompleted': ({ id }) => todos.update({ completed: true }).where({ id }),
    }),
  }),
})

export const todos$ = queryDb(todos.orderBy('text'), { label: 'todos' })
