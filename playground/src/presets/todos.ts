// Todos: create, toggle, rename and delete; `v1.TodosSeeded` writes many rows in one event (try 100000).
import { Events, makeSchema, State } from '@cairn/core'
import { z } from 'zod'

export const events = {
  todoCreated: Events.synced({
    name: 'v1.TodoCreated',
    schema: z.object({ id: z.string().min(1), text: z.string().min(1, 'Say what to do'), priority: z.enum(['low', 'normal', 'high']) }),
  }),
  todoToggled: Events.synced({ name: 'v1.TodoToggled', schema: z.object({ id: z.string(), completed: z.boolean() }) }),
  todoRenamed: Events.synced({ name: 'v1.TodoRenamed', schema: z.object({ id: z.string(), text: z.string().min(1) }) }),
  todoDeleted: Events.synced({ name: 'v1.TodoDeleted', schema: z.object({ id: z.string() }) }),
  todosSeeded: Events.synced({ name: 'v1.TodosSeeded', schema: z.object({ count: z.number().int().min(1).max(200_000) }) }),
}

export const tables = {
  todos: State.SQLite.table({
    name: 'todos',
    columns: {
      id: State.SQLite.text({ primaryKey: true }),
      text: State.SQLite.text(),
      priority: State.SQLite.text({ default: 'normal' }),
      completed: State.SQLite.boolean({ default: false }),
    },
    indexes: [{ name: 'todos_completed', columns: ['completed'] }],
  }),
}

const materializers = State.SQLite.materializers(events, {
  'v1.TodoCreated': ({ id, text, priority }) => tables.todos.insert({ id, text, priority }),
  'v1.TodoToggled': ({ id, completed }) => tables.todos.update({ completed }).where({ id }),
  'v1.TodoRenamed': ({ id, text }) => tables.todos.update({ text }).where({ id }),
  'v1.TodoDeleted': ({ id }) => tables.todos.delete().where({ id }),
  // one event, many rows: SQLite counts them out itself, deterministically on every client
  'v1.TodosSeeded': ({ count }, ctx) => ({
    sql: `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
          INSERT OR IGNORE INTO todos (id, text, priority, completed)
          SELECT ? || '-' || i, 'Seeded todo #' || i, 'normal', i % 3 = 0 FROM n`,
    bindValues: [count, `seed${ctx.event.seqNum.global}`],
  }),
})

export const schema = makeSchema({ events, state: State.SQLite.makeState({ tables, materializers }) })
