import { Events, makeSchema, State } from '@cairn/core'

// Args checked by a plain Standard Schema validator: the bench measures storage, not Zod.
const todoArgs = {
  '~standard': {
    version: 1 as const,
    vendor: 'bench',
    validate: (value: unknown) => ({ value: value as { id: string; text: string } }),
  },
}

export const events = {
  todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: todoArgs }),
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
