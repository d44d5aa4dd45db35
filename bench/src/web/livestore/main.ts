// LiveStore's @livestore/adapter-web on the same workloads as ../app/main.ts, driven by ../main.ts
// (the same method names, so the driver calls either page). "persisted" for LiveStore: its leader
// acknowledged the events (the session's sync status is synced again); it has no durable handle.
import { makePersistedAdapter } from '@livestore/adapter-web'
import LiveStoreSharedWorker from '@livestore/adapter-web/shared-worker?sharedworker'
import { createStorePromise, queryDb, Schema, type Store } from '@livestore/livestore'
import { LogLevel } from 'effect'
import LiveStoreWorker from './livestore.worker.ts?worker'
import { events, schema } from './schema.ts'

type LsStore = Store<typeof schema>
const now = () => performance.timeOrigin + performance.now()
let store: LsStore | undefined
let seq = 0
const seen = new Map<string, number>()
const need = () => {
  if (store === undefined) throw new Error('open first')
  return store
}

/**
 * Resolves once the leader took every event committed so far (the session's sync status is
 * synced). Woken by the sync-status subscription, with a 5 ms poll behind it (as in part 1, its
 * emissions can be missed).
 */
function leaderAcked(s: LsStore): Promise<void> {
  return new Promise((resolve) => {
    let unsubscribe: (() => void) | undefined
    let poll: ReturnType<typeof setInterval> | undefined
    const check = () => {
      if (!s.syncStatus().isSynced) return false
      unsubscribe?.()
      clearInterval(poll)
      resolve()
      return true
    }
    if (check()) return
    unsubscribe = s.subscribeSyncStatus(() => void check())
    poll = setInterval(check, 5)
  })
}

const bench = {
  async open(_kind: 'web', storeId = 'bench') {
    const t0 = performance.now()
    const adapter = makePersistedAdapter({ storage: { type: 'opfs' }, worker: LiveStoreWorker, sharedWorker: LiveStoreSharedWorker })
    store = await createStorePromise({ schema, adapter, storeId, disableDevtools: true, logLevel: LogLevel.None })
    const rows = store.query(
      queryDb({
        query: 'SELECT id, text FROM todos ORDER BY id LIMIT 20',
        schema: Schema.Array(Schema.Struct({ id: Schema.String, text: Schema.String })),
      }),
    )
    const ms = performance.now() - t0
    const last$ = queryDb({
      query: 'SELECT id FROM todos ORDER BY rowid DESC LIMIT 1',
      schema: Schema.Array(Schema.Struct({ id: Schema.String })),
    })
    store.subscribe(last$, (r) => {
      const id = r[0]?.id
      if (id !== undefined && !seen.has(id)) seen.set(id, now())
    })
    return { ms, sinceNavigation: performance.now(), rows: rows.length, storageMode: 'opfs' }
  },
  async shutdown() {
    await store?.shutdownPromise()
    store = undefined
  },
  async fill(total: number, perCommit: number) {
    const s = need()
    const t0 = performance.now()
    for (let i = 0; i < total; i += perCommit) {
      const batch = []
      for (let k = i; k < Math.min(total, i + perCommit); k++) batch.push(events.todoCreated({ id: `t${++seq}`, text: `todo ${k}` }))
      s.commit(...batch)
      if ((i / perCommit) % 50 === 49) await leaderAcked(s)
    }
    await leaderAcked(s)
    return performance.now() - t0
  },
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
  async persistLatency(n: number) {
    const s = need()
    const out: number[] = []
    for (let i = 0; i < n; i++) {
      const t = performance.now()
      s.commit(events.todoCreated({ id: `p${++seq}`, text: 'one' }))
      await leaderAcked(s)
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
}

;(globalThis as { bench?: typeof bench }).bench = bench
