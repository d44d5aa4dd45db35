import { computed, createStorePromise, Events, makeInMemoryAdapter, makeSchema, queryDb, signal, sql, State } from '@cairn/core'
import { z } from 'zod'

// 1. Events: facts, validated by any Standard Schema validator.
const events = {
  todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: z.object({ id: z.string(), text: z.string() }) }),
  todoCompleted: Events.synced({ name: 'v1.TodoCompleted', schema: z.object({ id: z.string() }) }),
}

// 2. State: SQLite tables, and a client document for UI state.
const tables = {
  todos: State.SQLite.table({
    name: 'todos',
    columns: {
      id: State.SQLite.text({ primaryKey: true }),
      text: State.SQLite.text({ default: '' }),
      completed: State.SQLite.boolean({ default: false }),
    },
    indexes: [{ name: 'todos_completed_text', columns: ['completed', 'text'] }],
  }),
  ui: State.SQLite.clientDocument({
    name: 'ui',
    schema: z.object({ filter: z.enum(['all', 'open', 'done']) }),
    default: { value: { filter: 'all' } },
  }),
}

// 3. Materializers: how each event changes the state.
const materializers = State.SQLite.materializers(events, {
  'v1.TodoCreated': ({ id, text }) => tables.todos.insert({ id, text }),
  'v1.TodoCompleted': ({ id }) => tables.todos.update({ completed: true }).where({ id }),
})

const schema = makeSchema({ events, state: State.SQLite.makeState({ tables, materializers }) })

export async function quickstart(log: (line: string) => void) {
  const store = await createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: 'demo' })

  // 4. Reactive queries: re-run only when a table they read changes.
  const open$ = queryDb(tables.todos.where({ completed: false }).orderBy('text'), { label: 'open' })
  const counts$ = queryDb({
    query: sql`SELECT count(*) AS n FROM todos WHERE completed = ${1}`,
    schema: z.array(z.object({ n: z.number() })),
  })
  const selectedId$ = signal<string | null>(null, { label: 'selectedId' })
  const selected$ = computed((get) => get(open$).find((t) => t.id === get(selectedId$))?.text ?? 'nothing')

  store.subscribe(open$, (rows) => log(`open: ${rows.map((t) => t.text).join(', ') || '(none)'}`))
  store.subscribe(selected$, (text) => log(`selected: ${text}`))

  // 5. Commits are synchronous: subscribers have run when commit returns.
  const handle = store.commit(events.todoCreated({ id: 'a', text: 'Buy milk' }), events.todoCreated({ id: 'b', text: 'Call mom' }))
  await handle.persisted // in the leader's log
  store.setSignal(selectedId$, 'a')
  store.commit(events.todoCompleted({ id: 'a' }))
  log(`done: ${store.query(counts$)[0]!.n}`)

  store.commit(tables.ui.set({ filter: 'done' }))
  log(`filter: ${store.query(queryDb(tables.ui.get())).filter}`)
  log(`status: ${JSON.stringify(store.syncStatus)}`)
  await store.shutdown()
}
