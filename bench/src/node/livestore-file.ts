// LiveStore 0.4.0 with @livestore/adapter-node and file storage (`storage: { type: 'fs' }`), no
// sync backend, devtools and logging off. As in part 1, "durable" = its leader has taken the
// events (the session's pending list is empty again); LiveStore offers no handle for it.
import { makeAdapter } from '@livestore/adapter-node'
import { createStorePromise, Events, makeSchema, queryDb, Schema, State, type Store } from '@livestore/livestore'
import { LogLevel } from 'effect'
import { makeTodos } from '../data.ts'
import { peakRssMb } from '../stats.ts'
import { assert } from '../types.ts'
import { timePhases } from './phases.ts'
import type { NodeSystem } from './types.ts'

const events = {
  todoCreated: Events.synced({
    name: 'v1.TodoCreated',
    schema: Schema.Struct({ id: Schema.String, text: Schema.String, createdAt: Schema.String }),
  }),
}
const schemaFor = (indexed: boolean) => {
  const todos = State.SQLite.table({
    name: 'todos',
    columns: {
      id: State.SQLite.text({ primaryKey: true }),
      text: State.SQLite.text({ default: '' }),
      completed: State.SQLite.boolean({ default: false }),
      createdAt: State.SQLite.text({ nullable: true }),
    },
    indexes: indexed ? [{ name: 'todos_text', columns: ['text'] }] : [],
  })
  const materializers = State.SQLite.materializers(events, {
    'v1.TodoCreated': ({ id, text, createdAt }) => todos.insert({ id, text, createdAt }),
  })
  return makeSchema({ events, state: State.SQLite.makeState({ tables: { todos }, materializers }) })
}
const schema = schemaFor(false)
const schemaV2 = schemaFor(true)
type LsStore = Store<typeof schema>
const count = queryDb({ query: 'SELECT count(*) AS n FROM todos', schema: Schema.Array(Schema.Struct({ n: Schema.Number })) })

const open = (dir: string, s = schema) =>
  createStorePromise({
    schema: s,
    adapter: makeAdapter({ storage: { type: 'fs', baseDirectory: dir }, clientId: 'bench', sessionId: 'bench' }),
    storeId: 'bench',
    disableDevtools: true,
    logLevel: LogLevel.None,
  }) as Promise<LsStore>

/** Resolves once the session's pending list is empty (polled every 2 ms and on status changes). */
function acked(store: LsStore): Promise<void> {
  if (store.syncStatus().isSynced) return Promise.resolve()
  return new Promise((resolve) => {
    const check = () => {
      if (!store.syncStatus().isSynced) return
      clearInterval(poll)
      unsubscribe()
      resolve()
    }
    const poll = setInterval(check, 2)
    const unsubscribe = store.subscribeSyncStatus(check)
  })
}

export const livestoreFile: NodeSystem = {
  async throughput(p, dir) {
    const store = await open(dir)
    const t = await timePhases(p.throughputEvents, p.warmupEvents, p.perCommit, async (batch) => {
      store.commit(...batch.map((a) => events.todoCreated(a)))
      await acked(store)
    })
    await store.shutdownPromise()
    return { metrics: { events_per_s: t.per_s, cold_events_per_s: t.cold_per_s, rss_mb: peakRssMb() } }
  },
  async singles(p, dir) {
    const store = await open(dir)
    const t = await timePhases(p.singles, p.warmupSingles, 1, async (batch) => {
      store.commit(events.todoCreated(batch[0]!))
      await acked(store)
    })
    await store.shutdownPromise()
    return { metrics: { commits_per_s: t.per_s, cold_commits_per_s: t.cold_per_s, rss_mb: peakRssMb() } }
  },
  async bulk(p, dir) {
    const store = await open(dir)
    const todos = makeTodos(p.bulkEvents)
    const t0 = performance.now()
    for (let i = 0; i < todos.length; i += p.perCommit) store.commit(...todos.slice(i, i + p.perCommit).map((a) => events.todoCreated(a)))
    await acked(store)
    const ms = performance.now() - t0
    // then all of it again as one commit
    const more = makeTodos(p.bulkEvents, 2, 'u')
    const t1 = performance.now()
    store.commit(...more.map((a) => events.todoCreated(a)))
    await acked(store)
    const oneMs = performance.now() - t1
    await store.shutdownPromise()
    return { metrics: { events_per_s: (todos.length / ms) * 1000, one_commit_events_per_s: (more.length / oneMs) * 1000, rss_mb: peakRssMb() } }
  },
  async setup(p, dir) {
    const store = await open(dir)
    const todos = makeTodos(p.persist)
    const t0 = performance.now()
    for (let i = 0; i < todos.length; i += 1_000) store.commit(...todos.slice(i, i + 1_000).map((a) => events.todoCreated(a)))
    await acked(store)
    const ms = performance.now() - t0
    await store.shutdownPromise()
    return { metrics: { setup_ms: ms } }
  },
  async boot(p, dir) {
    const t0 = performance.now()
    const store = await open(dir)
    const rows = store.query(count)[0]!.n
    const ms = performance.now() - t0
    assert(rows === p.persist, `livestore-file boot: ${rows} todos, expected ${p.persist}`)
    const rss = peakRssMb()
    await store.shutdownPromise()
    return { metrics: { boot_ms: ms, rss_mb: rss }, notes: ['livestore-file boot includes loading its wasm SQLite'] }
  },
  async rebuild(p, dir) {
    const t0 = performance.now()
    const store = await open(dir, schemaV2)
    const rows = store.query(count)[0]!.n
    const ms = performance.now() - t0
    assert(rows === p.persist, `livestore-file rebuild: ${rows} todos, expected ${p.persist}`)
    const rss = peakRssMb()
    await store.shutdownPromise()
    return { metrics: { rebuild_ms: ms, rss_mb: rss } }
  },
}
