// Cairn, imported from its sources, with the in-memory adapter (its leader runs in-process and
// keeps its database per storeId inside the adapter object). "Durable" = handle.persisted.
import {
  createStorePromise,
  Events,
  makeInMemoryAdapter,
  makeSchema,
  queryDb,
  State,
  type Adapter,
  type CommitHandle,
  type SyncBackend,
  type SyncHandlers,
} from '../../../core/src/index.ts'
import { z } from 'zod'
import { idsByText, makeOthers, makeTodos, OTHER_QUERIES, TODO_INDEX, TODO_QUERIES, type QuerySpec, type TodoArgs } from '../data.ts'
import { CallbackLatch, measureQueryDefs, timeBoots, timeCommitsToCallbacks, W4_WARMUP_COMMITS } from '../measure.ts'
import { peakRssMb, summarize } from '../stats.ts'
import { assert, type SystemModule } from '../types.ts'

const events = {
  todoCreated: Events.synced({
    name: 'v1.TodoCreated',
    schema: z.object({ id: z.string(), text: z.string(), createdAt: z.string() }),
  }),
  todoCompleted: Events.synced({ name: 'v1.TodoCompleted', schema: z.object({ id: z.string() }) }),
  otherCreated: Events.synced({
    name: 'v1.OtherCreated',
    schema: z.object({ id: z.string(), label: z.string(), value: z.number() }),
  }),
}

const tables = {
  todos: State.SQLite.table({
    name: 'todos',
    columns: {
      id: State.SQLite.text({ primaryKey: true }),
      text: State.SQLite.text({ default: '' }),
      completed: State.SQLite.boolean({ default: false }),
      createdAt: State.SQLite.text({ nullable: true }),
    },
    indexes: [{ name: TODO_INDEX.name, columns: [...TODO_INDEX.columns] }],
  }),
  other: State.SQLite.table({
    name: 'other',
    columns: {
      id: State.SQLite.text({ primaryKey: true }),
      label: State.SQLite.text({ default: '' }),
      value: State.SQLite.integer({ default: 0 }),
    },
  }),
}

const materializers = State.SQLite.materializers(events, {
  'v1.TodoCreated': ({ id, text, createdAt }) => tables.todos.insert({ id, text, createdAt }),
  'v1.TodoCompleted': ({ id }) => tables.todos.update({ completed: true }).where({ id }),
  'v1.OtherCreated': ({ id, label, value }) => tables.other.insert({ id, label, value }),
})

const schema = makeSchema({ events, state: State.SQLite.makeState({ tables, materializers }) })
type CairnStore = Awaited<ReturnType<typeof createStorePromise<typeof schema>>>

let storeCounter = 0
const boot = (adapter: Adapter = makeInMemoryAdapter(), storeId = `bench-${storeCounter++}`) =>
  createStorePromise({ schema, adapter, storeId })

/** A subscribed query is raw SQL without a result schema: rows as SQLite returns them, like raw. */
const defFor = (spec: QuerySpec) => queryDb({ query: spec.sql, bindValues: [...spec.bindValues] }, { label: spec.label })

function subscribeAll(store: CairnStore, onRelevant: () => void = () => {}) {
  const counts = { relevantCalls: 0, unrelatedCalls: 0 }
  const relevant = TODO_QUERIES.map(defFor)
  const unrelated = OTHER_QUERIES.map(defFor)
  relevant.forEach((def) =>
    store.subscribe(def, () => {
      counts.relevantCalls++
      onRelevant()
    }),
  )
  const unrelatedStops = unrelated.map((def) => store.subscribe(def, () => counts.unrelatedCalls++))
  const runs = (defs: typeof relevant) => defs.reduce((sum, def) => sum + store.runsOf(def), 0)
  assert(runs(relevant) === relevant.length, 'cairn: store.runsOf does not count the initial runs')
  let base = { relevantRuns: 0, unrelatedRuns: 0 }
  return {
    reset() {
      counts.relevantCalls = counts.unrelatedCalls = 0
      base = { relevantRuns: runs(relevant), unrelatedRuns: runs(unrelated) }
    },
    read: () => ({ ...counts, relevantRuns: runs(relevant) - base.relevantRuns, unrelatedRuns: runs(unrelated) - base.unrelatedRuns }),
    stopUnrelated: () => unrelatedStops.forEach((stop) => stop()),
  }
}

async function seedOthers(store: CairnStore) {
  await store.commit(...makeOthers().map((o) => events.otherCreated(o))).persisted
}

async function fill(store: CairnStore, rows: readonly TodoArgs[], batch: number) {
  let last: CommitHandle | undefined
  for (let i = 0; i < rows.length; i += batch) last = store.commit(...rows.slice(i, i + batch).map((t) => events.todoCreated(t)))
  await last?.persisted
}

const countTodos = (store: CairnStore) => store.query(tables.todos.count())

export const cairn: SystemModule = {
  async w1(p) {
    const t0 = performance.now()
    const store = await boot()
    const bootMs = performance.now() - t0
    await seedOthers(store)
    const subs = subscribeAll(store)
    subs.reset()
    const rows = makeTodos(p.commits)
    const samples = new Float64Array(p.commits)
    let last: CommitHandle | undefined
    const loopStart = performance.now()
    for (let i = 0; i < p.commits; i++) {
      const s = performance.now()
      last = store.commit(events.todoCreated(rows[i]!))
      samples[i] = (performance.now() - s) * 1000
    }
    const loopEnd = performance.now()
    await last!.persisted
    const end = performance.now()
    const c = subs.read()
    assert(countTodos(store) === p.commits, 'cairn w1: row count mismatch')
    const s = summarize(samples)
    await store.shutdown()
    return {
      n: p.commits,
      metrics: {
        boot_ms: bootMs,
        commit_p50_us: s.p50,
        commit_p99_us: s.p99,
        commit_mean_us: s.mean,
        drain_ms: end - loopEnd,
        events_per_s: p.commits / ((end - loopStart) / 1000),
        relevant_reruns_per_commit: c.relevantRuns / p.commits,
        unrelated_reruns: c.unrelatedRuns,
        relevant_callbacks_per_commit: c.relevantCalls / p.commits,
        unrelated_callbacks: c.unrelatedCalls,
        rss_mb: peakRssMb(),
      },
    }
  },

  async w2(p) {
    const store = await boot()
    const rows = makeTodos(p.batch)
    const t0 = performance.now()
    const list = rows.map((t) => events.todoCreated(t))
    const tc = performance.now()
    const handle = store.commit(...list)
    const t1 = performance.now()
    await handle.persisted
    const t2 = performance.now()
    assert(countTodos(store) === p.batch, 'cairn w2: row count mismatch')
    await store.shutdown()
    return {
      n: p.batch,
      metrics: {
        commit_ms: t1 - t0,
        create_ms: tc - t0,
        store_ms: t1 - tc,
        total_ms: t2 - t0,
        events_per_s: p.batch / ((t2 - t0) / 1000),
        rss_mb: peakRssMb(),
      },
    }
  },

  async w3(p) {
    const store = await boot()
    await fill(store, makeTodos(p.rows), p.fillBatch)
    const build = () => tables.todos.where({ completed: false }).orderBy('text').limit(50)
    const notes = [`cairn w3 builder SQL: ${build().asSql().query}`]
    const expected = Math.min(50, p.rows)
    const def = queryDb(build())
    const metrics = await measureQueryDefs(p.queries, expected, {
      readSame: () => store.query(def),
      readFresh: () => store.query(queryDb(build())),
      subscribe: () => store.subscribe(def, () => {}),
    })
    await store.shutdown()
    return {
      n: p.rows,
      metrics: { ...metrics, rss_mb: peakRssMb() },
      notes,
    }
  },

  async w4(p) {
    const store = await boot()
    await seedOthers(store)
    const rows = makeTodos(p.rows)
    await fill(store, rows, p.fillBatch)
    const targets = idsByText(rows)
    const latch = new CallbackLatch(TODO_QUERIES.length)
    const subs = subscribeAll(store, latch.hit)
    const run = (from: number, count: number) =>
      timeCommitsToCallbacks(latch, targets.slice(from, from + count), (id) => {
        const handle = store.commit(events.todoCompleted({ id }))
        return () => handle.persisted // keeps the leader's work out of the next sample
      })
    await run(0, W4_WARMUP_COMMITS)
    subs.reset()
    const main = await run(W4_WARMUP_COMMITS, p.reactive)
    const c = subs.read()
    subs.stopUnrelated()
    const control = await run(W4_WARMUP_COMMITS + p.reactive, p.reactive)
    await store.shutdown()
    return {
      n: p.reactive,
      metrics: {
        latency_mean_us: main.mean,
        latency_p50_us: main.p50,
        latency_p99_us: main.p99,
        relevant_callbacks_per_commit: c.relevantCalls / p.reactive,
        unrelated_reruns: c.unrelatedRuns,
        unrelated_callbacks: c.unrelatedCalls,
        control_mean_us: control.mean,
        rss_mb: peakRssMb(),
      },
    }
  },

  async w5(p) {
    const adapter = makeInMemoryAdapter()
    const storeId = 'bench-boot'
    const t0 = performance.now()
    const setup = await boot(adapter, storeId)
    await fill(setup, makeTodos(p.persist), p.persistBatch)
    await setup.shutdown()
    const setupMs = performance.now() - t0
    const bootOnce = async () => {
      const s = performance.now()
      const store = await boot(adapter, storeId)
      const rows = countTodos(store)
      const ms = performance.now() - s
      await store.shutdown()
      return { ms, rows }
    }
    const boots = await timeBoots(p.boots, p.persist, bootOnce)
    return {
      n: p.persist,
      metrics: {
        setup_ms: setupMs,
        boot_ms: boots.firstMs,
        boot_median_ms: boots.medianMs,
        rows_after_boot: boots.rows,
        rss_mb: peakRssMb(),
      },
      notes: [
        'cairn w5: same in-memory adapter object, shutdown + createStorePromise with the same storeId; boot = createStorePromise + count(*)',
      ],
    }
  },

  async w6(p) {
    const metrics: Record<string, number> = {}
    for (const k of REBASE_SIZES) {
      const samples: number[] = []
      for (let r = 0; r < p.rebases + 1; r++) {
        // A backend the bench drives by hand: never connected for pushes (events stay pending),
        // and the foreign event is delivered synchronously, so the call times the whole rebase:
        // the leader rewrites its log, the session rolls back, applies, replays and refreshes.
        let handlers: SyncHandlers | undefined
        const backend: SyncBackend = {
          name: 'bench',
          connect: (_params, h) => {
            handlers = h
            return { connected: false, push: () => new Promise(() => {}), reconnect() {}, close: async () => {} }
          },
        }
        const store = await createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: `rebase-${k}-${r}`, sync: { backend } })
        subscribeAll(store)
        const todos = makeTodos(k)
        let last: CommitHandle | undefined
        for (let i = 0; i < k; i += 100) last = store.commit(...todos.slice(i, i + 100).map((t) => events.todoCreated(t)))
        await last!.persisted
        const foreign = {
          eventId: `foreign-${r}`,
          producerSeq: 1,
          name: 'v1.TodoCreated',
          args: { id: 'foreign', text: 'x', createdAt: '2026-01-01' },
          clientId: 'other',
          sessionId: 'other',
          seq: 1,
        }
        const t0 = performance.now()
        handlers!.onPage({ events: [foreign], head: 1, remaining: 0 })
        const ms = performance.now() - t0
        assert(
          store.syncStatus.localHead === `e${k + 1}r1`,
          `cairn w6: expected the rebase to end at e${k + 1}r1, got ${store.syncStatus.localHead}`,
        )
        assert(countTodos(store) === k + 1, 'cairn w6: wrong row count after the rebase')
        if (r > 0) samples.push(ms) // the first one warms up
        await store.shutdown()
      }
      metrics[`rebase_${k}_ms`] = summarize(samples).p50
    }
    metrics.rebase_1000_per_event_us = (metrics.rebase_1000_ms! * 1000) / 1000
    return {
      n: p.rebases,
      metrics,
      notes: [
        'cairn w6: in-memory adapter, 10 todo + 90 unrelated subscriptions live; time = delivering one foreign event synchronously until the session refreshed',
      ],
    }
  },
}

const REBASE_SIZES = (process.env.REBASE_SIZES ? process.env.REBASE_SIZES.split(',').map(Number) : [1, 100, 1000]) as readonly number[]
