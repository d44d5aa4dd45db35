// `npm run bench` part 2: the sync server (sync/), on loopback, embedded SQLite (synchronous=FULL).
// The server runs in a child process; clients (the `@cairn/sync` transports) in this one.
//
//   s1  appends to one hot store: sequential acked pushes of 1 event, of 100 events
//   s2  N WebSocket clients on one store: write-to-delivery latency p50/p99
//   s3  the same with N long-poll clients
//
// Flags shared with part 1: --quick (small sizes), --only=s1,s3 (w* ids are part 1's), --out.
import { fork, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { PullPage, SyncBackend, SyncConnection, WireEvent } from '../../../core/src/index.ts'
import WebSocket from 'ws'
import { makeHttpSync, makeWsSync } from '../../../sync/src/index.ts'
import { httpFetch } from './http-fetch.ts'
import { postgresWorkloads } from './postgres.ts'

const here = path.dirname(fileURLToPath(import.meta.url))
const benchDir = path.resolve(here, '..', '..')
const argv = process.argv.slice(2)
const fromNpm = (name: string) => process.env[`npm_config_${name}`]
const valueOf = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fromNpm(name)
const quick = argv.includes('--quick') || fromNpm('quick') === 'true'
const strict = argv.includes('--strict') || fromNpm('strict') === 'true'
const only = (valueOf('only') ?? '').split(',').filter((s) => s !== '')
const picked = (id: string) => only.length === 0 || only.includes(id)
const out = valueOf('sync-out') ?? path.join(benchDir, 'results', 'sync-latest.json')

// fan-out: [writes/s, measured writes] per run; each run warms up on max(2 s, 20) writes first
const P0 = quick
  ? { pushSeconds: 1.5, wsClients: 200, httpClients: 100, wsRates: [[5, 20]], httpRates: [[5, 20]] }
  : {
      pushSeconds: 5,
      wsClients: 1_000,
      httpClients: 500,
      wsRates: [
        [2, 100],
        [10, 200],
      ],
      httpRates: [[2, 100]],
    }

const P = {
  ...P0,
  ...(process.env.SYNC_CLIENTS ? { wsClients: Number(process.env.SYNC_CLIENTS), httpClients: Number(process.env.SYNC_CLIENTS) } : {}),
}
const log = (s: string) => process.stderr.write(`${s}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN

export interface BenchServer {
  port: number
  child: ChildProcess
  stop: () => Promise<void>
  cpu: () => Promise<number>
  rss: () => Promise<number>
}

/** A server child; `env` picks its storage (SYNC_PG_SCHEMA: PostgreSQL, see server-child.ts). */
async function startServer(env: Record<string, string> = {}): Promise<BenchServer> {
  const child = fork(path.join(here, 'server-child.ts'), [], {
    env: { ...process.env, ...env },
    // SYNC_SERVER_ARGS: extra node flags for the server process, e.g. "--cpu-prof --cpu-prof-dir=prof"
    execArgv: ['--conditions=@cairn/source', '--import', 'tsx', ...(process.env.SYNC_SERVER_ARGS ?? '').split(' ').filter((a) => a !== '')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port))
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)))
  })
  return {
    port,
    child,
    /** The server process's CPU time so far (ms). */
    cpu: () =>
      new Promise<number>((resolve) => {
        child.once('message', (m) => {
          const { cpu } = m as { cpu: NodeJS.CpuUsage }
          resolve((cpu.user + cpu.system) / 1000)
        })
        child.send('cpu')
      }),
    /** The server process's resident set size now (bytes). */
    rss: () =>
      new Promise<number>((resolve) => {
        child.once('message', (m) => resolve((m as { rss: number }).rss))
        child.send('rss')
      }),
    stop: async () => {
      child.send('stop')
      await new Promise((r) => child.once('exit', r))
    },
  }
}

export interface Client {
  readonly connection: SyncConnection
  connected: boolean
  received: number
  readonly lat: number[]
}

function client(backend: SyncBackend, storeId: string, clientId: string, onEvents: (page: PullPage, c: Client) => void): Client {
  let cursor = 0
  const c: Client = {
    connected: false,
    received: 0,
    lat: [],
    connection: undefined as unknown as SyncConnection,
  }
  ;(c as { connection: SyncConnection }).connection = backend.connect(
    { storeId, clientId: () => clientId, sessionId: 's', backendId: () => null, cursor: () => cursor },
    {
      onWelcome: () => (c.connected = true),
      onPage: (page) => {
        const last = page.events.at(-1)
        if (last !== undefined) cursor = last.seq
        c.received += page.events.length
        onEvents(page, c)
      },
      onDisconnect: () => (c.connected = false),
      onRefused: (e) => log(`refused: ${e.message}`),
    },
  )
  return c
}

async function until(condition: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const start = Date.now()
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

const wire = (clientId: string, seq: number, args: unknown): WireEvent => ({
  eventId: `${clientId}-${seq}`,
  producerSeq: seq,
  name: 'v1.TodoCreated',
  args,
  clientId,
  sessionId: 's',
})

/** s1: one client pushing to one hot store, each push awaited (acked = durable on disk). */
async function s1() {
  const results: Record<string, number> = {}
  for (const batch of [1, 100]) {
    const server = await startServer()
    const c = client(makeWsSync({ url: `ws://127.0.0.1:${server.port}`, getAuthToken: () => 't', WebSocket }), 'hot', 'writer', () => {})
    await until(() => c.connected, 'the writer to connect')
    const latencies: number[] = []
    let seq = 0
    const start = performance.now()
    const end = start + P.pushSeconds * 1000
    while (performance.now() < end) {
      const events = Array.from({ length: batch }, () =>
        wire('writer', ++seq, { id: `t${seq}`, text: 'a todo of typical length, some forty characters' }),
      )
      const t = performance.now()
      await c.connection.push(events)
      latencies.push(performance.now() - t)
    }
    const seconds = (performance.now() - start) / 1000
    latencies.sort((a, b) => a - b)
    results[`batch ${batch}: acked pushes/s`] = latencies.length / seconds
    results[`batch ${batch}: events/s`] = seq / seconds
    results[`batch ${batch}: ack p50 (ms)`] = pct(latencies, 50)
    results[`batch ${batch}: ack p99 (ms)`] = pct(latencies, 99)
    await c.connection.close()
    await server.stop()
  }
  // many writers at once: the server commits the pushes of one event-loop turn together (one fsync)
  const writers = 20
  const server = await startServer()
  const cs = Array.from({ length: writers }, (_, i) =>
    client(makeWsSync({ url: `ws://127.0.0.1:${server.port}`, getAuthToken: () => 't', WebSocket }), 'hot', `w${i}`, () => {}),
  )
  await until(() => cs.every((c) => c.connected), 'the writers to connect')
  const latencies: number[] = []
  const end = performance.now() + P.pushSeconds * 1000
  const start = performance.now()
  await Promise.all(
    cs.map(async (c, i) => {
      let seq = 0
      while (performance.now() < end) {
        const t = performance.now()
        await c.connection.push([wire(`w${i}`, ++seq, { id: `t${i}-${seq}`, text: 'a todo of typical length, some forty characters' })])
        latencies.push(performance.now() - t)
      }
    }),
  )
  const seconds = (performance.now() - start) / 1000
  latencies.sort((a, b) => a - b)
  results[`${writers} writers, batch 1: acked pushes/s (all writers)`] = latencies.length / seconds
  results[`${writers} writers, batch 1: ack p50 (ms)`] = pct(latencies, 50)
  results[`${writers} writers, batch 1: ack p99 (ms)`] = pct(latencies, 99)
  for (const c of cs) await c.connection.close()
  await server.stop()
  return results
}

/** s2/s3: N clients on one store; a writer pushes single events at a steady rate; latency from push to each client's onPage. */
async function fanOut(kind: 'ws' | 'http', n: number, rate: number, writes: number) {
  const server = await startServer()
  const url = kind === 'ws' ? `ws://127.0.0.1:${server.port}` : `http://127.0.0.1:${server.port}`
  const make = () =>
    kind === 'ws'
      ? makeWsSync({ url, getAuthToken: () => 't', WebSocket, backoff: { baseMs: 100, capMs: 2_000 } })
      : makeHttpSync({ url, getAuthToken: () => 't', fetch: httpFetch, backoff: { baseMs: 100, capMs: 2_000 } })
  const sentAt = new Map<number, number>()
  const latencies: number[] = []
  /** Debug only, per measured write: [ack, first delivery, last delivery] in ms after push(). */
  const perWrite = new Map<number, [number, number, number]>()
  const debug = process.env.SYNC_BENCH_DEBUG !== undefined
  const onEvents = (page: PullPage, c: Client) => {
    const now = performance.now()
    for (const e of page.events) {
      const n = (e.args as { n: number }).n
      const t = sentAt.get(n)
      if (t !== undefined) {
        latencies.push(now - t)
        if (!debug) continue // the breakdowns below are not kept otherwise: their upkeep would be measured too
        c.lat.push(now - t)
        const w = perWrite.get(n) ?? [NaN, Infinity, 0]
        perWrite.set(n, [w[0], Math.min(w[1], now - t), Math.max(w[2], now - t)])
      }
    }
  }
  const connectStart = performance.now()
  const clients: Client[] = []
  for (let i = 0; i < n; i++) {
    clients.push(client(make(), 'fan', `reader${i}`, onEvents))
    if (i % 50 === 49) await sleep(5) // let handshakes through instead of queueing 1,000 at once
  }
  await until(() => clients.every((c) => c.connected), `${n} clients to connect`)
  const connectMs = performance.now() - connectStart
  await sleep(500)
  // the writer is on WebSocket in both: its pushes stay in order (a leader has one push in flight; this one does not wait)
  const writer = client(makeWsSync({ url: `ws://127.0.0.1:${server.port}`, getAuthToken: () => 't', WebSocket }), 'fan', 'writer', () => {})
  await until(() => writer.connected, 'the writer')
  const interval = 1000 / rate
  const serverCpu0 = await server.cpu()
  const clientCpu0 = process.cpuUsage()
  const start = performance.now()
  // the first `warmup` writes are not measured: both processes' JIT warms up on them
  const warmup = Math.max(rate * 2, 20)
  for (let i = 1; i <= warmup + writes; i++) {
    const due = start + i * interval
    const wait = due - performance.now()
    if (wait > 0) await sleep(wait)
    if (i > warmup) sentAt.set(i, performance.now())
    void writer.connection
      .push([wire('writer', i, { id: `t${i}`, text: 'x', n: i })])
      .then(() => {
        const t = debug ? sentAt.get(i) : undefined
        if (t !== undefined)
          perWrite.set(i, [performance.now() - t, ...(perWrite.get(i)?.slice(1) ?? [Infinity, 0])] as [number, number, number])
      })
      .catch((e) => log(`push failed: ${e.message}`))
  }
  await until(() => clients.every((c) => c.received >= warmup + writes), 'every client to receive every event', 60_000)
  if (process.env.SYNC_BENCH_DEBUG) {
    const byClient = clients.map((c) => Math.round(c.lat.reduce((a, b) => a + b, 0) / Math.max(1, c.lat.length)))
    log(`mean latency by client index (every 50th): ${byClient.filter((_, i) => i % 50 === 0).join(' ')}`)
  }
  if (debug) {
    // the slowest writes: where their time went (ack = durable on the server; first/last = deliveries)
    const slow = [...perWrite.entries()].sort((a, b) => b[1][2] - a[1][2]).slice(0, 8)
    log(`slowest writes [n, ack, first, last] (ms): ${JSON.stringify(slow.map(([k, v]) => [k, ...v.map(Math.round)]))}`)
  }
  const wallMs = performance.now() - start
  const serverCpuMs = (await server.cpu()) - serverCpu0
  const clientUsage = process.cpuUsage(clientCpu0)
  const clientCpuMs = (clientUsage.user + clientUsage.system) / 1000
  // per delivery over every write (warm-up included, as the CPU is): less noisy than latency on a shared machine
  const allDeliveries = (warmup + writes) * n
  latencies.sort((a, b) => a - b)
  const result = {
    clients: n,
    'connect all (ms)': connectMs,
    writes: writes,
    'writes/s': rate,
    deliveries: latencies.length,
    'delivery p50 (ms)': pct(latencies, 50),
    'delivery p99 (ms)': pct(latencies, 99),
    'delivery max (ms)': latencies.at(-1) ?? NaN,
    'server CPU (cores)': serverCpuMs / wallMs,
    'clients CPU (cores, all clients in one process)': clientCpuMs / wallMs,
    'server CPU per delivery (µs)': (serverCpuMs * 1000) / allDeliveries,
    'clients CPU per delivery (µs)': (clientCpuMs * 1000) / allDeliveries,
  }
  for (const c of [...clients, writer]) await c.connection.close()
  await server.stop()
  return result
}

async function rates(kind: 'ws' | 'http', n: number, list: readonly (readonly number[])[]) {
  const out: Record<string, number> = {}
  for (const [rate, writes] of list) {
    const r = await fanOut(kind, n, rate!, writes!)
    for (const [k, v] of Object.entries(r)) if (k !== 'writes/s') out[`${rate} writes/s: ${k}`] = v
  }
  return out
}

const workloads: Record<string, { title: string; run: () => Promise<Record<string, number>> }> = {
  s1: { title: 'one hot store, sequential acked pushes over WebSocket', run: s1 },
  s2: { title: `${P.wsClients} WebSocket clients on one store, single-event writes`, run: () => rates('ws', P.wsClients, P.wsRates) },
  s3: {
    title: `${P.httpClients} long-poll clients on one store, single-event writes`,
    run: () => rates('http', P.httpClients, P.httpRates),
  },
}

Object.assign(workloads, postgresWorkloads({ quick, pushSeconds: P.pushSeconds, startServer, client, until, wire, pct, sleep, log }))

const results: Record<string, Record<string, number> | { failed: string }> = {}
for (const [id, w] of Object.entries(workloads)) {
  if (!picked(id)) continue
  log(`sync bench ${id}: ${w.title}`)
  try {
    results[id] = await w.run()
  } catch (e) {
    results[id] = { failed: (e as Error).message }
  }
}
const fmt = (v: number) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(v >= 10 ? 1 : 2))
const lines = ['| workload | metric | value |', '| --- | --- | --- |']
for (const [id, r] of Object.entries(results)) {
  let first = true
  for (const [k, v] of Object.entries(r)) {
    lines.push(`| ${first ? `${id}. ${workloads[id]!.title}` : ''} | ${k} | ${typeof v === 'number' ? fmt(v) : v} |`)
    first = false
  }
}
if (lines.length > 2) {
  process.stdout.write(`\n## Sync server (loopback; s*: SQLite, p*: PostgreSQL)\n\n${lines.join('\n')}\n`)
  mkdirSync(path.dirname(out), { recursive: true })
  writeFileSync(
    out,
    JSON.stringify(
      { date: new Date().toISOString(), quick, machine: { nproc: os.availableParallelism(), node: process.version }, params: P, results },
      null,
      2,
    ),
  )
}
// --strict (the CI smoke run): a failed workload fails the run
const failed = Object.entries(results).filter(([, r]) => 'failed' in r)
if (strict && failed.length > 0) {
  process.stderr.write(`sync bench --strict: ${failed.map(([id, r]) => `${id}: ${(r as { failed: string }).failed}`).join('; ')}\n`)
  process.exit(1)
}
process.exit(0)
