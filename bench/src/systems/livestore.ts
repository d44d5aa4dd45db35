// LiveStore 0.4.0 with its Node adapter (single-threaded leader), no sync backend, devtools and
// logging off, NODE_ENV=production (set by the runner). Without a sync backend its leader keeps
// every event pending; "durable" here means the leader has written the event and acknowledged it
// to the session (the session's pending list is empty again).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { makeAdapter } from '@livestore/adapter-node'
import { createStorePromise, Events, makeSchema, queryDb, Schema, State, type LiveQuery, type Store } from '@livestore/livestore'
import { LogLevel } from 'effect'
import {
  idsByText,
  makeOthers,
  makeTodos,
  OTHER_QUERIES,
  TODO_INDEX,
  TODO_QUERIES,
  type ColumnKind,
  type QuerySpec,
  type TodoArgs,
} from '../data.ts'
import { CallbackLatch, measureQueryDefs, timeBoots, timeCommitsToCallbacks, W4_WARMUP_COMMITS } from '../measure.ts'
import { peakRssMb, summarize } from '../stats.ts'
import { assert, type SystemModule } from '../types.ts'

const events = {
  todoCreated: Events.synced({
    name: 'v1.TodoCreated',
    schema: Schema.Struct({ id: Schema.String, text: Schema.String, createdAt: Schema.String }),
  }),
  todoCompleted: Events.synced({ name: 'v1.TodoCompleted', schema: Schema.Struct({ id: Schema.String }) }),
  otherCreated: Events.synced({
    name: 'v1.OtherCreated',
    schema: Schema.Struct({ id: Schema.String, label: Schema.String, value: Schema.Number }),
  }),
}

const todos = State.SQLite.table({
  name: 'todos',
  columns: {
    id: State.SQLite.text({ primaryKey: true }),
    text: State.SQLite.text({ default: '' }),
    completed: State.SQLite.boolean({ default: false }),
    createdAt: State.SQLite.text({ nullable: true }),
  },
  indexes: [{ name: TODO_INDEX.name, columns: [...TODO_INDEX.columns] }],
})
const other = State.SQLite.table({
  name: 'other',
  columns: {
    id: State.SQLite.text({ primaryKey: true }),
    label: State.SQLite.text({ default: '' }),
    value: State.SQLite.integer({ default: 0 }),
  },
})

const materializers = State.SQLite.materializers(events, {
  'v1.TodoCreated': ({ id, text, createdAt }) => todos.insert({ id, text, createdAt }),
  'v1.TodoCompleted': ({ id }) => todos.update({ completed: true }).where({ id }),
  'v1.OtherCreated': ({ id, label, value }) => other.insert({ id, label, value }),
})

const schema = makeSchema({ events, state: State.SQLite.makeState({ tables: { todos, other }, materializers }) })
type LsStore = Store<typeof schema>

let storeCounter = 0

async function boot(storage: { type: 'in-memory' } | { type: 'fs'; baseDirectory: string } = { type: 'in-memory' }, storeId?: string) {
  const adapter = makeAdapter({ storage, clientId: 'bench', sessionId: 'bench' })
  return createStorePromise({
    schema,
    adapter,
    storeId: storeId ?? `bench-${process.pid}-${storeCounter++}`,
    disableDevtools: true,
    logLevel: LogLevel.None,
  })
}

/**
 * Resolves once the leader has taken every event committed so far (the session's pending list is
 * empty). Woken by a sync-status subscription; it re-reads the status itself because the
 * subscription's emissions can arrive out of order, and a 20 ms poll backs it up.
 */
function leaderAcked(store: LsStore): Promise<void> {
  if (store.syncStatus().isSynced) return Promise.resolve()
  let waiters = ackWaiters.get(store)
  if (waiters === undefined) {
    const list: (() => void)[] = []
    waiters = list
    ackWaiters.set(store, list)
    store.subscribeSyncStatus(() => wakeIfSynced(store, list))
  }
  const list = waiters
  return new Promise((resolve) => {
    list.push(resolve)
    const poll = setInterval(() => wakeIfSynced(store, list), 20)
    list.push(() => clearInterval(poll))
  })
}
const ackWaiters = new WeakMap<LsStore, (() => void)[]>()
function wakeIfSynced(store: LsStore, list: (() => void)[]) {
  if (list.length === 0 || !store.syncStatus().isSynced) return
  for (const wake of list.splice(0)) wake()
}

const columnSchema: Record<ColumnKind, Schema.Schema<any, any>> = {
  int: Schema.Number,
  bool: Schema.Boolean,
  text: Schema.String,
  textOrNull: Schema.NullOr(Schema.String),
}

function defFor(spec: QuerySpec) {
  const fields = Object.fromEntries(spec.columns.map(([name, kind]) => [name, columnSchema[kind]]))
  return queryDb({ query: spec.sql, bindValues: [...spec.bindValues], schema: Schema.Array(Schema.Struct(fields)) }, { label: spec.label })
}

function subscribeAll(store: LsStore, onRelevant: () => void = () => {}) {
  const counts = { relevantCalls: 0, unrelatedCalls: 0 }
  const relevantInstances: LiveQuery<unknown>[] = []
  const unrelatedInstances: LiveQuery<unknown>[] = []
  TODO_QUERIES.forEach((spec) =>
    store.subscribe(
      defFor(spec),
      () => {
        counts.relevantCalls++
        onRelevant()
      },
      { onSubscribe: (q$) => relevantInstances.push(q$ as LiveQuery<unknown>) },
    ),
  )
  const unrelatedStops = OTHER_QUERIES.map((spec) =>
    store.subscribe(
      defFor(spec),
      () => {
        counts.unrelatedCalls++
      },
      { onSubscribe: (q$) => unrelatedInstances.push(q$ as LiveQuery<unknown>) },
    ),
  )
  assert(relevantInstances.length === 10 && unrelatedInstances.length === 90, 'livestore: onSubscribe did not hand out the query instances')
  const runs = (list: LiveQuery<unknown>[]) => list.reduce((sum, q) => sum + q.runs, 0)
  let base = { relevantRuns: 0, unrelatedRuns: 0 }
  const reset = () => {
    counts.relevantCalls = counts.unrelatedCalls = 0
    base = { relevantRuns: runs(relevantInstances), unrelatedRuns: runs(unrelatedInstances) }
  }
  const read = () => ({
    ...counts,
    relevantRuns: runs(relevantInstances) - base.relevantRuns,
    unrelatedRuns: runs(unrelatedInstances) - base.unrelatedRuns,
  })
  const stopUnrelated = () => unrelatedStops.forEach((stop) => stop())
  return { reset, read, stopUnrelated }
}

async function seedOthers(store: LsStore) {
  store.commit(...makeOthers().map((o) => events.otherCreated(o)))
  await leaderAcked(store)
}

async function fill(store: LsStore, rows: readonly TodoArgs[], batch: number) {
  for (let i = 0; i < rows.length; i += batch) {
    store.commit(...rows.slice(i, i + batch).map((t) => events.todoCreated(t)))
  }
  await leaderAcked(store)
}

const countTodos = (store: LsStore) => store.query(todos.count())

export const livestore: SystemModule = {
  async w1(p) {
    const t0 = performance.now()
    const store = await boot()
    const bootMs = performance.now() - t0
    await seedOthers(store)
    const subs = subscribeAll(store)
    subs.reset()
    const rows = makeTodos(p.commits)
    const samples = new Float64Array(p.commits)
    const loopStart = performance.now()
    for (let i = 0; i < p.commits; i++) {
      const s = performance.now()
      store.commit(events.todoCreated(rows[i]!))
      samples[i] = (performance.now() - s) * 1000
    }
    const loopEnd = performance.now()
    await leaderAcked(store)
    const end = performance.now()
    const c = subs.read()
    assert(countTodos(store) === p.commits, 'livestore w1: row count mismatch')
    const s = summarize(samples)
    await store.shutdownPromise()
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
    const list = makeTodos(p.batch).map((t) => events.todoCreated(t))
    const t0 = performance.now()
    store.commit(...list)
    const t1 = performance.now()
    await leaderAcked(store)
    const t2 = performance.now()
    assert(countTodos(store) === p.batch, 'livestore w2: row count mismatch')
    await store.shutdownPromise()
    return {
      n: p.batch,
      metrics: {
        commit_ms: t1 - t0,
        store_ms: t1 - t0,
        total_ms: t2 - t0,
        events_per_s: p.batch / ((t2 - t0) / 1000),
        rss_mb: peakRssMb(),
      },
    }
  },

  async w3(p) {
    const store = await boot()
    await fill(store, makeTodos(p.rows), p.fillBatch)
    const build = () => todos.where({ completed: false }).orderBy('text', 'asc').limit(50)
    const notes = [`livestore w3 builder SQL: ${build().asSql().query}`]
    const expected = Math.min(50, p.rows)
    const def = queryDb(build())
    const metrics = await measureQueryDefs(p.queries, expected, {
      readSame: () => store.query(def),
      readFresh: () => store.query(queryDb(build())),
      subscribe: () => store.subscribe(def, () => {}),
    })
    await store.shutdownPromise()
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
        store.commit(events.todoCompleted({ id }))
        return () => leaderAcked(store) // keeps the leader's work out of the next sample
      })
    await run(0, W4_WARMUP_COMMITS)
    subs.reset()
    const main = await run(W4_WARMUP_COMMITS, p.reactive)
    const c = subs.read()
    subs.stopUnrelated()
    const control = await run(W4_WARMUP_COMMITS + p.reactive, p.reactive)
    await store.shutdownPromise()
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
    const dir = mkdtempSync(path.join(tmpdir(), 'cairn-bench-livestore-'))
    try {
      const storage = { type: 'fs' as const, baseDirectory: dir }
      const storeId = `bench-boot-${process.pid}`
      const t0 = performance.now()
      const setup = await boot(storage, storeId)
      await fill(setup, makeTodos(p.persist), p.persistBatch)
      await setup.shutdownPromise()
      const setupMs = performance.now() - t0
      const bootOnce = async () => {
        const s = performance.now()
        const store = await boot(storage, storeId)
        const rows = countTodos(store)
        const ms = performance.now() - s
        await store.shutdownPromise()
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
        notes: ['livestore w5: file storage (fs adapter) in a temp directory; boot = new adapter + createStorePromise + count(*)'],
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  },

  async w6(p) {
    // LiveStore rebases only against a sync provider; its node adapter has none to drive by hand
    return { n: p.rebases, metrics: {}, notes: ['livestore w6: not measured (a rebase needs a LiveStore sync provider)'] }
  },
}
