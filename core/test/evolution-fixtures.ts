// One app in several releases, for the schema-evolution tests of core, the adapters and sync:
// release 1; release 2 adds an event (same tables, same materializers otherwise); release 3
// changes only the logic of one materializer.
import { Events, makeSchema, queryDb, State, type Store } from '@cairn/core'
import { z } from 'zod'

export const events = {
  todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: z.object({ id: z.string(), text: z.string() }) }),
  todoCompleted: Events.synced({ name: 'v1.TodoCompleted', schema: z.object({ id: z.string() }) }),
  /** New in release 2: release 1 does not know it. */
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
    },
  }),
  drafts: State.SQLite.table({
    name: 'drafts',
    clientOnly: true,
    columns: { id: State.SQLite.text({ primaryKey: true }), text: State.SQLite.text() },
  }),
}

// the same function objects in every release: only what a release changes has another hash
const m = State.SQLite.materializers(events, {
  'v1.TodoCreated': ({ id, text }) => tables.todos.insert({ id, text }),
  'v1.TodoCompleted': ({ id }) => tables.todos.update({ completed: true }).where({ id }),
  'v1.TodoDeleted': ({ id }) => tables.todos.delete().where({ id }),
  DraftChanged: ({ text }) => tables.drafts.insert({ id: 'current', text }).onConflict('id', 'replace'),
})
const { 'v1.TodoCreated': created, 'v1.TodoCompleted': completed, 'v1.TodoDeleted': deleted, DraftChanged: draft } = m

const { todoDeleted, ...release1Events } = events

export const release1 = makeSchema({
  events: release1Events,
  state: State.SQLite.makeState({
    tables,
    materializers: { 'v1.TodoCreated': created, 'v1.TodoCompleted': completed, DraftChanged: draft },
  }),
  unknownEventHandling: 'ignore',
})

export const release2 = makeSchema({
  events: { ...release1Events, todoDeleted },
  state: State.SQLite.makeState({
    tables,
    materializers: { 'v1.TodoCreated': created, 'v1.TodoCompleted': completed, 'v1.TodoDeleted': deleted, DraftChanged: draft },
  }),
})

/** Release 2 with a new logic for v1.TodoCreated (texts are stored trimmed): same tables, same events. */
export const release3 = makeSchema({
  events: { ...release1Events, todoDeleted },
  state: State.SQLite.makeState({
    tables,
    materializers: {
      'v1.TodoCreated': ({ id, text }: { id: string; text: string }) => tables.todos.insert({ id, text: text.trim() }),
      'v1.TodoCompleted': completed,
      'v1.TodoDeleted': deleted,
      DraftChanged: draft,
    },
  }),
})

/** Every row of every synced table, in a stable order: equal for two clients with the same state. */
export function syncedRows(store: Store): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {}
  for (const [name, table] of store.schema.tablesByName) {
    if (table.clientOnly) continue
    const rows = store.query(queryDb({ query: `SELECT * FROM "${name}"` }))
    out[name] = rows.map((r) => JSON.stringify(r)).sort()
  }
  return out
}

// Another app whose event got a second version: v2.ItemAdded has a priority, and v1.ItemAdded
// events reach its materializer through migrate.
export const itemAddedV1 = Events.synced({ name: 'v1.ItemAdded', schema: z.object({ id: z.string(), title: z.string() }) })
export const itemAddedV2 = Events.synced({
  name: 'v2.ItemAdded',
  schema: z.object({ id: z.string(), title: z.string(), priority: z.number().int() }),
  from: itemAddedV1,
  migrate: (args) => ({ ...args, priority: args.title.startsWith('!') ? 1 : 0 }),
})
const itemsV1 = State.SQLite.table({ name: 'items', columns: { id: State.SQLite.text({ primaryKey: true }), title: State.SQLite.text() } })
export const items = State.SQLite.table({
  name: 'items',
  columns: { id: State.SQLite.text({ primaryKey: true }), title: State.SQLite.text(), priority: State.SQLite.integer() },
})
export const itemsAppV1 = makeSchema({
  events: { itemAddedV1 },
  state: State.SQLite.makeState({
    tables: { items: itemsV1 },
    materializers: State.SQLite.materializers({ itemAddedV1 }, { 'v1.ItemAdded': (a) => itemsV1.insert(a) }),
  }),
  unknownEventHandling: 'ignore',
})
export const itemsAppV2 = makeSchema({
  events: { itemAddedV2 },
  state: State.SQLite.makeState({
    tables: { items },
    materializers: State.SQLite.materializers({ itemAddedV2 }, { 'v2.ItemAdded': (a) => items.insert(a) }),
  }),
})
