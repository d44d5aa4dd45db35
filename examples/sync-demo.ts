// Two devices share one store through a sync server (here the in-memory one shipped for tests).
// One goes offline, both edit, it comes back: the server's order wins and the offline device
// rebases its edit on top, like `git pull --rebase`.
import { createStorePromise, Events, makeInMemoryAdapter, makeSchema, queryDb, State, syncStatus$ } from '@cairn/core'
import { makeInMemorySyncServer } from '@cairn/core/testing'
import { z } from 'zod'

export const events = {
  todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: z.object({ id: z.string(), text: z.string() }) }),
  todoRenamed: Events.synced({ name: 'v1.TodoRenamed', schema: z.object({ id: z.string(), text: z.string() }) }),
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
      'v1.TodoRenamed': ({ id, text }) => todos.update({ text }).where({ id }),
      'v1.TodoCompleted': ({ id }) => todos.update({ completed: true }).where({ id }),
    }),
  }),
})

export async function syncDemo(log: (line: string) => void): Promise<void> {
  const server = makeInMemorySyncServer({ seed: 1 })
  const laptopNet = server.backend({ name: 'laptop' })
  const laptop = await createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: 'team', sync: { backend: laptopNet } })
  const phone = await createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: 'team', sync: { backend: server.backend() } })
  const all$ = queryDb(todos.orderBy('id'), { label: 'todos' })
  const show = (rows: readonly { text: string; completed: boolean }[]) =>
    rows.map((t) => `${t.completed ? '[x]' : '[ ]'} ${t.text}`).join(', ')
  phone.subscribe(all$, (rows) => log(`phone sees: ${show(rows) || '(nothing)'}`))
  laptop.subscribe(syncStatus$, (s) =>
    log(
      `laptop: ${s.connected ? 'online' : 'offline'}, ${s.pending} pending, session ${s.localHead}, leader ${s.leaderHead}, server ${s.serverHead ?? '?'}`,
    ),
  )

  await laptop.commit(events.todoCreated({ id: 'a', text: 'Write the spec' })).confirmed
  await server.settled([laptop, phone])

  log('-- the laptop goes offline; both edit the same todo --')
  laptopNet.setOnline(false)
  await server.settled([phone])
  laptop.commit(events.todoRenamed({ id: 'a', text: 'Write the spec (v2)' }))
  await phone.commit(events.todoCompleted({ id: 'a' })).confirmed

  log('-- back online: the phone won e2, the laptop replays its edit as e3 --')
  laptopNet.setOnline(true)
  await server.settled([laptop, phone])
  log(
    `laptop: ${show(laptop.query(all$))}; server log: ${server
      .events('team')
      .map((e) => `e${e.seq} ${e.name}`)
      .join(', ')}`,
  )
  await laptop.shutdown()
  await phone.shutdown()
}

if (import.meta.url === `file://${process.argv[1]}`) await syncDemo((line) => console.log(line))
