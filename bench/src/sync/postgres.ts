// The sync workloads on PostgreSQL storage (`postgresStorage`), next to SQLite's s1-s3 in the same
// run. Each server child gets a schema of its own on SYNC_PG_URL (default: the local test
// database), dropped afterwards. PostgreSQL unreachable: these workloads report a failure.
//
//   p1  one hot store, one WebSocket client, sequential acked pushes of 1 event, of 100 events
//   p2  100 stores written at once (one client each, batches of 100)
//   p3  3 nodes (3 processes, one database), 1,000 WebSocket clients spread over them, a writer
//       on node 1: write -> delivery p50/p99
//   p4  cold pull of a 1,000,000-event store by one client: time and server RSS growth
import type { PullPage, SyncBackend, WireEvent } from '../../../core/src/index.ts'
import pg from 'pg'
import WebSocket from 'ws'
import { makeWsSync } from '../../../sync/src/index.ts'
import type { BenchServer, Client } from './main.ts'

interface Deps {
  quick: boolean
  pushSeconds: number
  startServer: (env?: Record<string, string>) => Promise<BenchServer>
  client: (backend: SyncBackend, storeId: string, clientId: string, onEvents: (page: PullPage, c: Client) => void) => Client
  until: (condition: () => boolean, what: string, timeoutMs?: number) => Promise<void>
  wire: (clientId: string, seq: number, args: unknown) => WireEvent
  pct: (sorted: number[], p: number) => number
  sleep: (ms: number) => Promise<unknown>
  log: (s: string) => void
}

const url = process.env.SYNC_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const text = 'a todo of typical length, some forty characters'

export function postgresWorkloads(d: Deps): Record<string, { title: string; run: () => Promise<Record<string, number>> }> {
  const ws = (port: number) => makeWsSync({ url: `ws://127.0.0.1:${port}`, getAuthToken: () => 't', WebSocket, backoff: { baseMs: 100, capMs: 2_000 } })

  /** Runs `work` with a fresh schema (dropped after) and servers started on it. */
  const withSchema = async <T>(work: (schema: string, admin: pg.Client) => Promise<T>): Promise<T> => {
    const admin = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 })
    try {
      await admin.connect()
    } catch (e) {
      throw new Error(`PostgreSQL at ${url} is unreachable (${(e as Error).message}); set SYNC_PG_URL`)
    }
    const schema = `cairn_bench_${Date.now().toString(36)}`
    try {
      return await work(schema, admin)
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`)
      await admin.end()
    }
  }
  const start = (schema: string) => d.startServer({ SYNC_PG_SCHEMA: schema, SYNC_PG_URL: url })

  /** Sequential acked pushes of `batch` events by one client for pushSeconds. */
  const hot = async (port: number, storeId: string, clientId: string, batch: number, seconds: number) => {
    const c = d.client(ws(port), storeId, clientId, () => {})
    await d.until(() => c.connected, 'the writer to connect')
    const latencies: number[] = []
    let seq = 0
    const begin = performance.now()
    const end = begin + seconds * 1000
    while (performance.now() < end) {
      const events = Array.from({ length: batch }, () => d.wire(clientId, ++seq, { id: `t${seq}`, text }))
      const t = performance.now()
      await c.connection.push(events)
      latencies.push(performance.now() - t)
    }
    const wall = (performance.now() - begin) / 1000
    await c.connection.close()
    return { pushes: latencies.length / wall, events: seq / wall, latencies: latencies.sort((a, b) => a - b) }
  }

  const p1 = () =>
    withSchema(async (schema) => {
      const results: Record<string, number> = {}
      const server = await start(schema)
      for (const batch of [1, 100]) {
        const r = await hot(server.port, `hot-${batch}`, 'writer', batch, d.pushSeconds)
        results[`batch ${batch}: acked pushes/s`] = r.pushes
        results[`batch ${batch}: events/s`] = r.events
        results[`batch ${batch}: ack p50 (ms)`] = d.pct(r.latencies, 50)
        results[`batch ${batch}: ack p99 (ms)`] = d.pct(r.latencies, 99)
      }
      await server.stop()
      return results
    })

  const p2 = () =>
    withSchema(async (schema) => {
      const stores = d.quick ? 20 : 100
      const server = await start(schema)
      const runs = await Promise.all(Array.from({ length: stores }, (_, i) => hot(server.port, `store-${i}`, `w${i}`, 100, d.pushSeconds)))
      await server.stop()
      const all = runs.flatMap((r) => r.latencies).sort((a, b) => a - b)
      return {
        stores,
        'events/s in all': runs.reduce((sum, r) => sum + r.events, 0),
        'ack p50 (ms)': d.pct(all, 50),
        'ack p99 (ms)': d.pct(all, 99),
      }
    })

  const p3 = () =>
    withSchema(async (schema) => {
      const n = d.quick ? 200 : 1_000
      const [rate, writes] = d.quick ? [5, 20] : [10, 200]
      const servers = [await start(schema), await start(schema), await start(schema)]
      const sentAt = new Map<number, number>()
      const latencies: number[] = []
      const onEvents = (page: PullPage) => {
        const now = performance.now()
        for (const e of page.events) {
          const t = sentAt.get((e.args as { n: number }).n)
          if (t !== undefined) latencies.push(now - t)
        }
      }
      const clients: Client[] = []
      for (let i = 0; i < n; i++) {
        clients.push(d.client(ws(servers[i % 3]!.port), 'fan', `reader${i}`, onEvents))
        if (i % 50 === 49) await d.sleep(5)
      }
      await d.until(() => clients.every((c) => c.connected), `${n} clients to connect`)
      await d.sleep(500)
      const writer = d.client(ws(servers[0]!.port), 'fan', 'writer', () => {})
      await d.until(() => writer.connected, 'the writer')
      const warmup = Math.max(rate * 2, 20)
      const begin = performance.now()
      for (let i = 1; i <= warmup + writes; i++) {
        const wait = begin + (i * 1000) / rate - performance.now()
        if (wait > 0) await d.sleep(wait)
        if (i > warmup) sentAt.set(i, performance.now())
        void writer.connection.push([d.wire('writer', i, { id: `t${i}`, text: 'x', n: i })]).catch((e: Error) => d.log(`push failed: ${e.message}`))
      }
      await d.until(() => clients.every((c) => c.received >= warmup + writes), 'every client to receive every event', 60_000)
      latencies.sort((a, b) => a - b)
      for (const c of [...clients, writer]) await c.connection.close()
      for (const s of servers) await s.stop()
      return {
        clients: n,
        nodes: 3,
        'writes/s': rate,
        deliveries: latencies.length,
        'delivery p50 (ms)': d.pct(latencies, 50),
        'delivery p99 (ms)': d.pct(latencies, 99),
        'delivery max (ms)': latencies.at(-1) ?? NaN,
      }
    })

  const p4 = () =>
    withSchema(async (schema, admin) => {
      const total = d.quick ? 100_000 : 1_000_000
      const server = await start(schema) // creates the tables
      const q = (t: string) => `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(t)}`
      const seedStart = performance.now()
      await admin.query(`INSERT INTO ${q('cairn_sync_stores')} (store_id, backend_id, head) VALUES ('cold', 'bench', $1)`, [total])
      await admin.query(
        `INSERT INTO ${q('cairn_sync_events')} (store_id, seq, event_id, client_id, producer_seq, session_id, name, args, principal)
         SELECT 'cold', g, 'e' || g, 'seeder', g, 's', 'v1.TodoCreated', '{"id":"t' || g || '","text":"${text}"}', 'bench'
           FROM generate_series(1, $1::bigint) AS g`,
        [total],
      )
      await admin.query(`ANALYZE ${q('cairn_sync_events')}`)
      const seedMs = performance.now() - seedStart
      const rss0 = await server.rss()
      let peak = rss0
      const sampler = setInterval(() => void server.rss().then((r) => (peak = Math.max(peak, r))), 100)
      const begin = performance.now()
      const c = d.client(ws(server.port), 'cold', 'reader', () => {})
      await d.until(() => c.received >= total, `the pull of ${total} events`, 600_000)
      const pullMs = performance.now() - begin
      clearInterval(sampler)
      peak = Math.max(peak, await server.rss())
      await c.connection.close()
      await server.stop()
      return {
        events: total,
        'seed in PostgreSQL (ms, not the server)': seedMs,
        'pull time (ms)': pullMs,
        'events/s': total / (pullMs / 1000),
        'server RSS before (MiB)': rss0 / 2 ** 20,
        'server RSS growth, peak (MiB)': (peak - rss0) / 2 ** 20,
      }
    })

  return {
    p1: { title: 'PostgreSQL: one hot store, sequential acked pushes over WebSocket', run: p1 },
    p2: { title: `PostgreSQL: ${d.quick ? 20 : 100} stores written at once, batches of 100`, run: p2 },
    p3: { title: `PostgreSQL: 3 nodes, ${d.quick ? 200 : 1_000} WebSocket clients on one store`, run: p3 },
    p4: { title: `PostgreSQL: cold pull of ${d.quick ? '100,000' : '1,000,000'} events by one client`, run: p4 },
  }
}
