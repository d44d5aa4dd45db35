// The bench page: the web adapter, the in-memory adapter and the raw floor, driven by ../main.ts.
import { createStorePromise, makeInMemoryAdapter, queryDb, type Store } from '@cairn/core'
import { makePersistedAdapter } from '@cairn/adapter-web'
import CairnWorker from './cairn.worker.ts?worker'
import RawWorker from './raw.worker.ts?worker'
import { events, schema } from './schema.ts'

const first$ = queryDb({ query: 'SELECT id, text FROM todos ORDER BY id LIMIT 20' })
const now = () => performance.timeOrigin + performance.now()
let store: Store<typeof schema> | undefined
let seq = 0
const seen = new Map<string, number>()

const need = () => {
  if (store === undefined) throw new Error('open first')
  return store
}

async function rawCall<T>(worker: Worker, message: unknown): Promise<T> {
  return new Promise((resolve) => {
    worker.onmessage = (e) => resolve(e.data as T)
    worker.postMessage(message)
  })
}

let raw: Worker | undefined

const bench = {
  /** Opens the store (web or in-memory adapter); returns ms to the first query result. */
  async open(kind: 'web' | 'memory', storeId = 'bench') {
    const t0 = performance.now()
    const adapter = kind === 'web' ? makePersistedAdapter({ worker: CairnWorker, storage: { type: 'opfs' } }) : makeInMemoryAdapter()
    store = await createStorePromise({ schema, adapter, storeId })
    const rows = store.query(first$)
    const ms = performance.now() - t0
    store.subscribe(queryDb({ query: 'SELECT id FROM todos ORDER BY rowid DESC LIMIT 1' }), (r) => {
      const id = (r as { id: string }[])[0]?.id
      if (id !== undefined && !seen.has(id)) seen.set(id, now())
    })
    return { ms, sinceNavigation: performance.now(), rows: rows.length, storageMode: store.storageMode }
  },
  async shutdown() {
    await store?.shutdown()
    store = undefined
  },
  /** Commits `total` events in commits of `perCommit`, all persisted; returns ms. */
  async fill(total: number, perCommit: number) {
    const s = need()
    const t0 = performance.now()
    let last: Promise<void> = Promise.resolve()
    for (let i = 0; i < total; i += perCommit) {
      const batch = []
      for (let k = i; k < Math.min(total, i + perCommit); k++) batch.push(events.todoCreated({ id: `t${++seq}`, text: `todo ${k}` }))
      last = s.commit(...batch).persisted
      // let the leader keep up, as an app's commits spread over time would
      if ((i / perCommit) % 50 === 49) await last
    }
    await last
    return performance.now() - t0
  },
  /**
   * Single-event commits, the synchronous commit() call only, in runs of 50 (the page's clock
   * ticks in 0.1 ms): the mean time per commit of each run (ms). The leader gets the events
   * between runs.
   */
  async commitTimes(n: number) {
    const s = need()
    const out: number[] = []
    for (let i = 0; i < n; i += 50) {
      const batch = Array.from({ length: 50 }, () => events.todoCreated({ id: `c${++seq}`, text: 'one' }))
      const t = performance.now()
      for (const e of batch) s.commit(e)
      out.push((performance.now() - t) / 50)
      await new Promise((r) => setTimeout(r, 0))
    }
    return out
  },
  /** Single-event commits one after another: commit -> persisted (ms) of each. */
  async persistLatency(n: number) {
    const s = need()
    const out: number[] = []
    for (let i = 0; i < n; i++) {
      const t = performance.now()
      await s.commit(events.todoCreated({ id: `p${++seq}`, text: 'one' })).persisted
      out.push(performance.now() - t)
    }
    return out
  },
  commit(id: string) {
    const at = now()
    need().commit(events.todoCreated({ id, text: id }))
    return at
  },
  async seenAt(id: string) {
    while (!seen.has(id)) await new Promise((r) => setTimeout(r, 1))
    return seen.get(id)!
  },
  isLeader: () => true,

  // the floor: raw sqlite-wasm on opfs-sahpool in a worker
  async rawOpen(reset: boolean, gathered = false) {
    const t0 = performance.now()
    raw?.terminate()
    raw = new RawWorker({ name: gathered ? 'raw-gathered' : 'raw' })
    await rawCall(raw, { op: 'open', reset })
    const { rows } = await rawCall<{ rows: unknown[] }>(raw, { op: 'query' })
    return { ms: performance.now() - t0, rows: rows.length }
  },
  /** Commits sent without waiting (as the adapter's outbox does), then every answer awaited. */
  async rawFill(total: number, perCommit: number) {
    const worker = raw!
    const t0 = performance.now()
    let sent = 0
    let answered = 0
    const done = new Promise<void>((resolve) => {
      worker.onmessage = () => {
        if (++answered === sent) resolve()
      }
    })
    for (let i = 0; i < total; i += perCommit) {
      const batch = []
      for (let k = i; k < Math.min(total, i + perCommit); k++) batch.push({ id: `t${++seq}`, text: `todo ${k}`, eventId: crypto.randomUUID() })
      sent++
      worker.postMessage({ op: 'commit', events: batch })
    }
    await done
    return performance.now() - t0
  },
  async rawPersistLatency(n: number) {
    const out: number[] = []
    for (let i = 0; i < n; i++) {
      const t = performance.now()
      await rawCall(raw!, { op: 'commit', events: [{ id: `p${++seq}`, text: 'one', eventId: crypto.randomUUID() }] })
      out.push(performance.now() - t)
    }
    return out
  },
  rawClose() {
    raw?.terminate()
    raw = undefined
  },
}

;(globalThis as { bench?: typeof bench }).bench = bench
export type Bench = typeof bench
