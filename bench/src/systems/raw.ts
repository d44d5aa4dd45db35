// Raw @sqlite.org/sqlite-wasm: the floor. The same write statements as the materializers, the
// same queries re-run by hand (only those that read the written table), cached prepared
// statements. Steps, binds and column reads call sqlite3.wasm's exports directly: the `capi`
// wrappers convert every argument and cost several times more per call (Cairn bypasses them
// too, so a floor that used them would not be one). Its "leader" is a second in-memory database
// holding an eventlog table, appended to per commit: the floor of an event-sourced layer.
import sqlite3InitModule from '@sqlite.org/sqlite-wasm'
import {
  makeOthers,
  makeTodos,
  idsByText,
  OTHER_QUERIES,
  TODO_INDEX,
  TODO_QUERIES,
  WINDOW_QUERY,
  type QuerySpec,
  type TodoArgs,
} from '../data.ts'
import { timeBoots, timeReads, timeReadsPerTask, W4_WARMUP_COMMITS, warmUp } from '../measure.ts'
import { peakRssMb, summarize } from '../stats.ts'
import { assert, type SystemModule } from '../types.ts'
import { z } from 'zod'

/** The schema Cairn's `v1.TodoCreated` validates with (systems/cairn.ts). */
const todoCreatedArgs = z.object({ id: z.string(), text: z.string(), createdAt: z.string() })

type Sqlite3 = Awaited<ReturnType<typeof sqlite3InitModule>>
type Db = InstanceType<Sqlite3['oo1']['DB']>
type Row = Record<string, string | number | boolean | null>
type BindValue = string | number | null

/** The few sqlite3.wasm exports the hot paths call, taking and returning plain numbers. */
interface Exports {
  sqlite3_step(stmt: number): number
  sqlite3_reset(stmt: number): number
  sqlite3_clear_bindings(stmt: number): number
  sqlite3_bind_null(stmt: number, i: number): number
  sqlite3_bind_int(stmt: number, i: number, v: number): number
  sqlite3_bind_double(stmt: number, i: number, v: number): number
  sqlite3_bind_text(stmt: number, i: number, ptr: number, n: number, destructor: number): number
  sqlite3_column_type(stmt: number, i: number): number
  sqlite3_column_int(stmt: number, i: number): number
  sqlite3_column_text(stmt: number, i: number): number
  sqlite3_column_bytes(stmt: number, i: number): number
  sqlite3_malloc(n: number): number
  sqlite3_free(p: number): void
}

const SQLITE_ROW = 100
const SQLITE_DONE = 101
const SQLITE_NULL = 5
const SQLITE_TRANSIENT = -1

let sqlite3: Sqlite3
let x: Exports
const decoder = new TextDecoder()
const encoder = new TextEncoder()
let scratch = 0
let scratchSize = 0

const STATE_DDL = `
  CREATE TABLE todos (id TEXT PRIMARY KEY NOT NULL, text TEXT NOT NULL DEFAULT '', completed INTEGER NOT NULL DEFAULT 0, createdAt TEXT);
  CREATE INDEX ${TODO_INDEX.name} ON todos (${TODO_INDEX.columns.join(', ')});
  CREATE TABLE other (id TEXT PRIMARY KEY NOT NULL, label TEXT NOT NULL DEFAULT '', value INTEGER NOT NULL DEFAULT 0);
`
const EVENTLOG_DDL = `
  CREATE TABLE eventlog (seqNum INTEGER PRIMARY KEY, name TEXT NOT NULL, args TEXT NOT NULL, clientId TEXT NOT NULL, sessionId TEXT NOT NULL);
`

/** A prepared statement driven through the wasm exports. */
class Prepared {
  private readonly stmt: ReturnType<Db['prepare']>
  readonly p: number
  constructor(db: Db, sql: string) {
    this.stmt = db.prepare(sql)
    this.p = this.stmt.pointer as number
  }
  bind(values: readonly BindValue[]): void {
    for (let i = 0; i < values.length; i++) bindOne(this.p, i + 1, values[i]!)
  }
  /** Binds, runs to completion, resets. */
  run(values: readonly BindValue[]): void {
    this.bind(values)
    const rc = x.sqlite3_step(this.p)
    x.sqlite3_reset(this.p)
    if (rc !== SQLITE_DONE) throw new Error(`step failed (sqlite code ${rc})`)
  }
  /** Through oo1, which tracks its statements and would finalize this one again on close. */
  finalize(): void {
    this.stmt.finalize()
  }
}

function bindOne(p: number, i: number, v: BindValue): void {
  let rc: number
  if (v === null) rc = x.sqlite3_bind_null(p, i)
  else if (typeof v === 'number') rc = (v | 0) === v ? x.sqlite3_bind_int(p, i, v) : x.sqlite3_bind_double(p, i, v)
  else {
    const n = writeUtf8(v) // may move the scratch buffer: read `scratch` after it
    rc = x.sqlite3_bind_text(p, i, scratch, n, SQLITE_TRANSIENT) // SQLite copies the text
  }
  if (rc !== 0) throw new Error(`binding parameter ${i} failed (sqlite code ${rc})`)
}

/** Writes `s` as UTF-8 into the scratch buffer (ASCII without TextEncoder); returns its length. */
function writeUtf8(s: string): number {
  const max = s.length * 3
  if (max + 1 > scratchSize) {
    if (scratch) x.sqlite3_free(scratch)
    scratchSize = Math.max(max + 1, scratchSize * 2, 1024)
    scratch = x.sqlite3_malloc(scratchSize)
  }
  const heap = sqlite3.wasm.heap8u()
  let j = 0
  for (; j < s.length; j++) {
    const c = s.charCodeAt(j)
    if (c > 127) return encoder.encodeInto(s, heap.subarray(scratch, scratch + max + 1)).written
    heap[scratch + j] = c
  }
  return j
}

function readText(p: number, i: number): string {
  const ptr = x.sqlite3_column_text(p, i)
  const n = x.sqlite3_column_bytes(p, i)
  const heap = sqlite3.wasm.heap8u()
  if (n < 48) {
    let out = ''
    for (let k = 0; k < n; k++) {
      const c = heap[ptr + k]!
      if (c > 127) return decoder.decode(heap.subarray(ptr, ptr + n))
      out += String.fromCharCode(c)
    }
    return out
  }
  return decoder.decode(heap.subarray(ptr, ptr + n))
}

/** A query re-run by hand: bound once, stepped and read with typed column reads. */
class RawQuery {
  private readonly prepared: Prepared
  constructor(
    db: Db,
    readonly spec: QuerySpec,
  ) {
    this.prepared = new Prepared(db, spec.sql)
    this.prepared.bind(spec.bindValues)
  }
  run(): Row[] {
    return readRows(this.prepared.p, this.spec)
  }
}

const KIND_CODE = { int: 0, bool: 1, text: 2, textOrNull: 3 } as const
const readerCache = new WeakMap<QuerySpec, { names: string[]; kinds: Uint8Array }>()

/** Steps a statement to the end, reading each column with the typed read its kind needs; resets it. */
function readRows(p: number, spec: QuerySpec): Row[] {
  let reader = readerCache.get(spec)
  if (reader === undefined) {
    reader = { names: spec.columns.map((c) => c[0]), kinds: Uint8Array.from(spec.columns, (c) => KIND_CODE[c[1]]) }
    readerCache.set(spec, reader)
  }
  const { names, kinds } = reader
  const n = names.length
  const rows: Row[] = []
  let rc: number
  while ((rc = x.sqlite3_step(p)) === SQLITE_ROW) {
    const row: Row = {}
    for (let i = 0; i < n; i++) {
      const kind = kinds[i]
      row[names[i]!] =
        kind === 0
          ? x.sqlite3_column_int(p, i)
          : kind === 1
            ? x.sqlite3_column_int(p, i) !== 0
            : kind === 2 || x.sqlite3_column_type(p, i) !== SQLITE_NULL
              ? readText(p, i)
              : null
    }
    rows.push(row)
  }
  x.sqlite3_reset(p)
  if (rc !== SQLITE_DONE) throw new Error(`query step failed (sqlite code ${rc})`)
  return rows
}

/** The state DB, the eventlog DB and the statements the "materializers" run. */
class RawStore {
  readonly state: Db
  readonly log: Db
  private readonly insertTodo: Prepared
  private readonly completeTodo: Prepared
  private readonly insertOther: Prepared
  private readonly appendEvent: Prepared
  seqNum = 0

  constructor() {
    this.state = new sqlite3.oo1.DB(':memory:', 'c')
    this.log = new sqlite3.oo1.DB(':memory:', 'c')
    this.state.exec(STATE_DDL)
    this.log.exec(EVENTLOG_DDL)
    this.insertTodo = new Prepared(this.state, 'INSERT INTO todos (id, text, createdAt) VALUES (?, ?, ?)')
    this.completeTodo = new Prepared(this.state, 'UPDATE todos SET completed = 1 WHERE id = ?')
    this.insertOther = new Prepared(this.state, 'INSERT INTO other (id, label, value) VALUES (?, ?, ?)')
    this.appendEvent = new Prepared(this.log, 'INSERT INTO eventlog (seqNum, name, args, clientId, sessionId) VALUES (?, ?, ?, ?, ?)')
  }

  createTodo(t: TodoArgs): void {
    this.insertTodo.run([t.id, t.text, t.createdAt])
  }
  complete(id: string): void {
    this.completeTodo.run([id])
  }
  /** The durable side: the event appended to the log in the second database. */
  append(name: string, args: object): void {
    this.appendEvent.run([++this.seqNum, name, JSON.stringify(args), 'bench', 'bench'])
  }
  seedOthers(): void {
    this.state.transaction(() => {
      for (const o of makeOthers()) this.insertOther.run([o.id, o.label, o.value])
    })
  }
  /** Fills `todos` with `rows` todos in transactions of `batch`, logging the events too. */
  fill(todos: readonly TodoArgs[], batch: number): void {
    for (let i = 0; i < todos.length; i += batch) {
      const chunk = todos.slice(i, i + batch)
      this.state.transaction(() => {
        for (const t of chunk) this.createTodo(t)
      })
      this.log.transaction(() => {
        for (const t of chunk) this.append('v1.TodoCreated', t)
      })
    }
  }
  count(): number {
    return this.state.selectValue('SELECT count(*) FROM todos') as number
  }
}

async function boot(): Promise<RawStore> {
  sqlite3 ??= await sqlite3InitModule()
  x = sqlite3.wasm.exports as unknown as Exports
  return new RawStore()
}

/** Subscriptions by hand: the 10 todo queries are re-run after a write to todos; the others never are. */
function subscribeAll(db: Db) {
  const relevant = TODO_QUERIES.map((spec) => new RawQuery(db, spec))
  const unrelated = OTHER_QUERIES.map((spec) => new RawQuery(db, spec))
  const counts = { relevantRuns: 0, relevantCalls: 0, unrelatedRuns: 0, unrelatedCalls: 0 }
  const onRelevant = (_rows: Row[]) => counts.relevantCalls++
  const onUnrelated = (_rows: Row[]) => counts.unrelatedCalls++
  // initial run, as a subscription does
  for (const q of relevant) onRelevant(q.run())
  for (const q of unrelated) onUnrelated(q.run())
  const afterTodosWrite = () => {
    for (let i = 0; i < relevant.length; i++) {
      counts.relevantRuns++
      onRelevant(relevant[i]!.run())
    }
  }
  const reset = () => {
    counts.relevantRuns = counts.relevantCalls = counts.unrelatedRuns = counts.unrelatedCalls = 0
  }
  return { counts, afterTodosWrite, reset, relevant, unrelated }
}

export const raw: SystemModule = {
  async w1(p) {
    const t0 = performance.now()
    const store = await boot()
    const bootMs = performance.now() - t0
    store.seedOthers()
    const subs = subscribeAll(store.state)
    subs.reset()
    const todos = makeTodos(p.commits)
    const samples = new Float64Array(p.commits)
    const loopStart = performance.now()
    for (let i = 0; i < p.commits; i++) {
      const t = todos[i]!
      const s = performance.now()
      store.createTodo(t)
      subs.afterTodosWrite()
      samples[i] = (performance.now() - s) * 1000
      store.append('v1.TodoCreated', t)
    }
    const loopEnd = performance.now()
    const totalMs = loopEnd - loopStart // every append already happened inside the loop
    assert(store.count() === p.commits, 'raw w1: row count mismatch')
    const s = summarize(samples)
    return {
      n: p.commits,
      metrics: {
        boot_ms: bootMs,
        commit_p50_us: s.p50,
        commit_p99_us: s.p99,
        commit_mean_us: s.mean,
        drain_ms: 0,
        events_per_s: p.commits / (totalMs / 1000),
        relevant_reruns_per_commit: subs.counts.relevantRuns / p.commits,
        unrelated_reruns: subs.counts.unrelatedRuns,
        relevant_callbacks_per_commit: subs.counts.relevantCalls / p.commits,
        unrelated_callbacks: subs.counts.unrelatedCalls,
        rss_mb: peakRssMb(),
      },
      notes: [
        'raw: state write + re-run of the 10 todo queries timed per commit; the eventlog append (2nd DB) is outside the sample but inside events/s',
      ],
    }
  },

  async w2(p) {
    const store = await boot()
    const todos = makeTodos(p.batch)
    const t0 = performance.now()
    store.state.transaction(() => {
      for (const t of todos) store.createTodo(t)
    })
    const t1 = performance.now()
    store.log.transaction(() => {
      for (const t of todos) store.append('v1.TodoCreated', t)
    })
    const t2 = performance.now()
    assert(store.count() === p.batch, 'raw w2: row count mismatch')
    // Not part of raw's work: what validating the same args with the same Zod schema costs on its
    // own, cold (Cairn validates inside its commit call; raw validates nothing). Timed after the
    // rest, so it warms up nothing that was measured.
    const t3 = performance.now()
    for (const t of todos) todoCreatedArgs.parse(t)
    const validateMs = performance.now() - t3
    return {
      n: p.batch,
      metrics: {
        commit_ms: t1 - t0,
        store_ms: t1 - t0,
        total_ms: t2 - t0,
        events_per_s: p.batch / ((t2 - t0) / 1000),
        validate_ms: validateMs,
        rss_mb: peakRssMb(),
      },
    }
  },

  async w3(p) {
    const store = await boot()
    store.fill(makeTodos(p.rows), p.fillBatch)
    const expected = Math.min(50, p.rows)
    // (a) the same prepared statement, bound once, re-stepped each time
    const same = new RawQuery(store.state, WINDOW_QUERY)
    // (b) the cached statement bound afresh each call (what a statement cache keyed by SQL gives)
    const cached = new Prepared(store.state, WINDOW_QUERY.sql)
    const freshRead = () => {
      cached.bind(WINDOW_QUERY.bindValues)
      const rows = readRows(cached.p, WINDOW_QUERY)
      x.sqlite3_clear_bindings(cached.p)
      return rows
    }
    await warmUp(300, freshRead)
    await warmUp(100, () => same.run())
    const sa = timeReads(p.queries, expected, () => same.run())
    const perTask = await timeReadsPerTask(p.queries, expected, () => same.run())
    const sb = timeReads(p.queries, expected, freshRead)
    return {
      n: p.rows,
      metrics: {
        same_mean_us: sa.mean,
        same_p50_us: sa.p50,
        same_p99_us: sa.p99,
        same_task_mean_us: perTask.mean,
        fresh_mean_us: sb.mean,
        fresh_p50_us: sb.p50,
        fresh_p99_us: sb.p99,
        rss_mb: peakRssMb(),
      },
      notes: ['raw w3: (a) re-steps one prepared statement bound once; (b) binds the cached statement afresh each call'],
    }
  },

  async w4(p) {
    const store = await boot()
    store.seedOthers()
    const todos = makeTodos(p.rows)
    store.fill(todos, p.fillBatch)
    const targets = idsByText(todos)
    const subs = subscribeAll(store.state)
    const run = (from: number, count: number) => {
      const samples = new Float64Array(count)
      for (let i = 0; i < count; i++) {
        const id = targets[from + i]!
        const before = subs.counts.relevantCalls
        const s = performance.now()
        store.complete(id)
        subs.afterTodosWrite()
        samples[i] = (performance.now() - s) * 1000
        assert(subs.counts.relevantCalls - before === TODO_QUERIES.length, 'raw w4: not every relevant subscriber was called')
        store.append('v1.TodoCompleted', { id })
      }
      return summarize(samples)
    }
    run(0, W4_WARMUP_COMMITS)
    subs.reset()
    const main = run(W4_WARMUP_COMMITS, p.reactive)
    const counts = { ...subs.counts }
    const control = run(W4_WARMUP_COMMITS + p.reactive, p.reactive) // raw never re-runs unrelated queries: same work
    return {
      n: p.reactive,
      metrics: {
        latency_mean_us: main.mean,
        latency_p50_us: main.p50,
        latency_p99_us: main.p99,
        relevant_callbacks_per_commit: counts.relevantCalls / p.reactive,
        unrelated_reruns: counts.unrelatedRuns,
        unrelated_callbacks: counts.unrelatedCalls,
        control_mean_us: control.mean,
        rss_mb: peakRssMb(),
      },
    }
  },

  async w5(p) {
    const store = await boot()
    const t0 = performance.now()
    store.fill(makeTodos(p.persist), p.persistBatch)
    const setupMs = performance.now() - t0
    // "Boot" = what a session does from its leader's snapshot: export the state DB, open a copy.
    const bootOnce = () => {
      const s = performance.now()
      const bytes = sqlite3.capi.sqlite3_js_db_export(store.state.pointer!)
      const db = new sqlite3.oo1.DB(':memory:', 'c')
      const mem = sqlite3.wasm.allocFromTypedArray(bytes)
      const rc = sqlite3.capi.sqlite3_deserialize(
        db.pointer!,
        'main',
        mem,
        bytes.byteLength,
        bytes.byteLength,
        sqlite3.capi.SQLITE_DESERIALIZE_FREEONCLOSE | sqlite3.capi.SQLITE_DESERIALIZE_RESIZEABLE,
      )
      assert(rc === 0, `raw w5: deserialize failed (${rc})`)
      const rows = db.selectValue('SELECT count(*) FROM todos') as number
      const ms = performance.now() - s
      db.close()
      return { ms, rows }
    }
    const boots = await timeBoots(p.boots, p.persist, async () => bootOnce())
    return {
      n: p.persist,
      metrics: {
        setup_ms: setupMs,
        boot_ms: boots.firstMs,
        boot_median_ms: boots.medianMs,
        rows_after_boot: boots.rows,
        rss_mb: peakRssMb(),
      },
      notes: ['raw w5 boot = export the state DB + deserialize it into a new DB + count(*)'],
    }
  },

  async w6(p) {
    // The same work by hand, without changesets: undo K inserted todos (DELETE by id), insert the
    // foreign todo, insert the K todos again, re-run the 10 todo queries once, and rewrite the
    // log (delete K pending rows, insert the foreign event and the K renumbered ones).
    const metrics: Record<string, number> = {}
    for (const k of [1, 100, 1000] as const) {
      const samples: number[] = []
      for (let r = 0; r < p.rebases + 1; r++) {
        const store = await boot()
        const subs = subscribeAll(store.state)
        const todos = makeTodos(k)
        store.state.transaction(() => todos.forEach((t) => store.createTodo(t)))
        store.log.transaction(() => todos.forEach((t) => store.append('v1.TodoCreated', t)))
        const del = new Prepared(store.state, 'DELETE FROM todos WHERE id = ?')
        const delLog = new Prepared(store.log, 'DELETE FROM eventlog WHERE seqNum = ?')
        const t0 = performance.now()
        store.log.transaction(() => {
          for (let i = 0; i < k; i++) delLog.run([i + 1])
          store.seqNum = 0
          store.append('v1.TodoCreated', { id: 'foreign', text: 'x', createdAt: '2026-01-01' })
          for (const t of todos) store.append('v1.TodoCreated', t)
        })
        store.state.transaction(() => {
          for (let i = todos.length - 1; i >= 0; i--) del.run([todos[i]!.id])
          store.createTodo({ id: 'foreign', text: 'x', createdAt: '2026-01-01' })
          for (const t of todos) store.createTodo(t)
        })
        subs.afterTodosWrite()
        const ms = performance.now() - t0
        assert(store.count() === k + 1, 'raw w6: wrong row count')
        if (r > 0) samples.push(ms)
        del.finalize()
        delLog.finalize()
        store.state.close()
        store.log.close()
      }
      metrics[`rebase_${k}_ms`] = summarize(samples).p50
    }
    metrics.rebase_1000_per_event_us = (metrics.rebase_1000_ms! * 1000) / 1000
    return {
      n: p.rebases,
      metrics,
      notes: ['raw w6: the same SQL by hand (DELETE/INSERT instead of inverted changesets), 10 todo queries re-run once'],
    }
  },
}
