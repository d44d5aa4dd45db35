/**
 * The TodoMVC schema every framework example shares: events, tables, materializers and the
 * queries the views use. Only the view layer differs between examples.
 */
import { documentQuery, Events, makeSchema, queryDb, State } from '@cairn/core'
import { z } from 'zod'

export const events = {
  todoCreated: Events.synced({
    name: 'v1.TodoCreated',
    schema: z.object({ id: z.string(), text: z.string().min(1), createdAt: z.number() }),
  }),
  todoToggled: Events.synced({ name: 'v1.TodoToggled', schema: z.object({ id: z.string(), completed: z.boolean() }) }),
  todoDeleted: Events.synced({ name: 'v1.TodoDeleted', schema: z.object({ id: z.string() }) }),
  completedCleared: Events.synced({ name: 'v1.CompletedCleared', schema: z.object({}) }),
}

export type Filter = 'all' | 'active' | 'completed'

export const tables = {
  todos: State.SQLite.table({
    name: 'todos',
    columns: {
      id: State.SQLite.text({ primaryKey: true }),
      text: State.SQLite.text(),
      completed: State.SQLite.boolean({ default: false }),
      createdAt: State.SQLite.integer(),
    },
  }),
  /** Per-client UI state: the draft of the new todo and the filter. */
  ui: State.SQLite.clientDocument({
    name: 'ui',
    schema: z.object({ newTodoText: z.string(), filter: z.enum(['all', 'active', 'completed']) }),
    default: { value: { newTodoText: '', filter: 'all' } },
  }),
}

const materializers = State.SQLite.materializers(events, {
  'v1.TodoCreated': ({ id, text, createdAt }) => tables.todos.insert({ id, text, createdAt }),
  'v1.TodoToggled': ({ id, completed }) => tables.todos.update({ completed }).where({ id }),
  'v1.TodoDeleted': ({ id }) => tables.todos.delete().where({ id }),
  'v1.CompletedCleared': () => tables.todos.delete().where({ completed: true }),
})

export const schema = makeSchema({ events, state: State.SQLite.makeState({ tables, materializers }) })

/** The todos the current filter shows; it re-derives when the filter changes. */
export const visibleTodos$ = queryDb(
  (get) => {
    const { filter } = get(documentQuery(tables.ui))
    const todos = tables.todos.orderBy('createdAt')
    return filter === 'all' ? todos : todos.where({ completed: filter === 'completed' })
  },
  { label: 'visibleTodos' },
)
export const activeCount$ = queryDb(tables.todos.where({ completed: false }).count(), { label: 'activeCount' })
export const completedCount$ = queryDb(tables.todos.where({ completed: true }).count(), { label: 'completedCount' })

/** The event that adds a todo with this text. */
export function createTodo(text: string) {
  return events.todoCreated({ id: crypto.randomUUID(), text, createdAt: Date.now() })
}

export const filters: readonly Filter[] = ['all', 'active', 'completed']
