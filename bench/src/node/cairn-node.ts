// Cairn with @cairn/adapter-node (sqlite-wasm + a Node file VFS, WAL + fdatasync group commit),
// imported from its sources. Durable = `handle.persisted`.
import { createStorePromise, Events, loadSqlite, makeSchema, queryDb, State } from '@cairn/core'
import { makeNodeAdapter } from '@cairn/adapter-node'
import { z } from 'zod'
import { makeTodos } from '../data.ts'
import { cpuMsSince, peakRssMb } from '../stats.ts'
import { assert } from '../types.ts'
import { timePhases } from './phases.ts'
import type { NodeSystem } from './types.ts'

const events = {
  todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: z.object({ id: z.string(), text: z.string(), createdAt: z.string() }) }),
}
const columns = {
  id: State.SQLite.text({ primaryKey: true }),
  text: State.SQLite.text({ default: '' }),
  completed: State.SQLite.boolean({ default: false }),
  createdAt: State.SQLite.text({ nullable: true }),
}
const schemaFor = (indexed: boolean) => {
  const todos = State.SQLite.table({ name: 'todos', columns, indexes: indexed ? [{ name: 'todos_text', columns: ['text'] }] : [] })
  const materializers = State.SQLite.materializers(events, {
    'v1.TodoCreated': ({ id, text, createdAt }) => todos.insert({ id, text, createdAt }),
  })
  return makeSchema({ events, state: State.SQLite.makeState({ tables: { todos }, materializers }) })
}
// the rebuild opens the store with the index added: another state hash
const schema = schemaFor(false)
const schemaV2 = schemaFor(true)
const count = queryDb({ query: 'SELECT count(*) AS n FROM todos' })
const open = (dir: string, s = schema) => createStorePromise({ schema: s, storeId: 'bench', adapter: makeNodeAdapter({ directory: dir }) })

export const cairnNode: NodeSystem = {
  async throughput(p, dir) {
    const store = await open(dir)
    const t = await timePhases(
      p.throughputEvents,
      p.warmupEvents,
      p.perCommit,
      (batch) => store.commit(...batch.map((a) => events.todoCreated(a))).persisted,
    )
    await store.shutdown()
    return { metrics: { events_per_s: t.per_s, cold_events_per_s: t.cold_per_s, cpu_ms: t.cpu_ms, rss_mb: peakRssMb() } }
  },
  async singles(p, dir) {
    const store = await open(dir)
    const t = await timePhases(p.singles, p.warmupSingles, 1, (batch) => store.commit(events.todoCreated(batch[0]!)).persisted)
    await store.shutdown()
    return { metrics: { commits_per_s: t.per_s, cold_commits_per_s: t.cold_per_s, cpu_ms: t.cpu_ms, rss_mb: peakRssMb() } }
  },
  async bulk(p, dir) {
    const store = await open(dir)
    const todos = makeTodos(p.bulkEvents)
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    let last: Promise<void> = Promise.resolve()
    for (let i = 0; i < todos.length; i += p.perCommit) last = store.commit(...todos.slice(i, i + p.perCommit).map((a) => events.todoCreated(a))).persisted
    await last
    const ms = performance.now() - t0
    const cpu = cpuMsSince(c0)
    // then all of it again as one commit (one transaction)
    const more = makeTodos(p.bulkEvents, 2, 'u')
    const t1 = performance.now()
    await store.commit(...more.map((a) => events.todoCreated(a))).persisted
    const oneMs = performance.now() - t1
    await store.shutdown()
    return { metrics: { events_per_s: (todos.length / ms) * 1000, one_commit_events_per_s: (more.length / oneMs) * 1000, cpu_ms: cpu, rss_mb: peakRssMb() } }
  },
  async setup(p, dir) {
    const store = await open(dir)
    const todos = makeTodos(p.persist)
    const t0 = performance.now()
    let last: Promise<void> = Promise.resolve()
    for (let i = 0; i < todos.length; i += 1_000)
      last = store.commit(...todos.slice(i, i + 1_000).map((a) => events.todoCreated(a))).persisted
    await last
    const ms = performance.now() - t0
    await store.shutdown()
    return { metrics: { setup_ms: ms } }
  },
  async boot(p, dir) {
    const t0 = performance.now()
    await loadSqlite()
    const moduleMs = performance.now() - t0
    const t1 = performance.now()
    const c1 = process.cpuUsage()
    const store = await open(dir)
    const rows = (store.query(count) as { n: number }[])[0]!.n
    const ms = performance.now() - t1
    const cpu = cpuMsSince(c1)
    assert(rows === p.persist, `cairn-node boot: ${rows} todos, expected ${p.persist}`)
    const rss = peakRssMb()
    await store.shutdown()
    return { metrics: { module_ms: moduleMs, boot_ms: ms, cpu_ms: cpu, rss_mb: rss } }
  },
  async rebuild(p, dir) {
    await loadSqlite()
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    const store = await open(dir, schemaV2)
    const rows = (store.query(count) as { n: number }[])[0]!.n
    const ms = performance.now() - t0
    const cpu = cpuMsSince(c0)
    assert(rows === p.persist, `cairn-node rebuild: ${rows} todos, expected ${p.persist}`)
    const rss = peakRssMb()
    await store.shutdown()
    return { metrics: { rebuild_ms: ms, cpu_ms: cpu, rss_mb: rss } }
  },
}
