import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { SyncError, type SyncConnection, type WireEvent } from '@cairn/core'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { makeHttpSync, makeWsSync } from '../src/index.ts'
import { sleep, waitFor, wireEvents } from './helpers.ts'
import { adminPool, freshSchema, reachable, startNode, tail, terminate, type Tail } from './postgres-fixture.ts'

// CI-sized by default; PG_SOAK=1 runs longer
const soak = process.env.PG_SOAK === '1'
const FAN_WRITES = soak ? 4_000 : 100
// per transport; the 250 + 250 with PG_SOAK=1 (the CI-sized run shares 2 cores with the three nodes)
const FAN_SUBSCRIBERS = Number(process.env.PG_FAN_SUBSCRIBERS ?? (soak ? 250 : 40))
const WRITER_BATCHES = soak ? 200 : 40

type Node = Awaited<ReturnType<typeof startNode>>
const nodes: Node[] = []
const connections: SyncConnection[] = []
const children: ChildProcess[] = []
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
  for (const c of connections.splice(0)) await c.close()
  for (const n of nodes.splice(0)) await n.server.close()
})
async function node(schema: string, name: string, options: { pollMs?: number; logs?: string[] } = {}): Promise<Node> {
  const n = await startNode(schema, name, options)
  nodes.push(n)
  return n
}

const backoff = { baseMs: 20, capMs: 300 }
const wsUrl = (port: number) => `ws://127.0.0.1:${port}`
const ws = (url: string) => makeWsSync({ url, getAuthToken: () => 't', WebSocket, backoff })
const http = (url: string) => makeHttpSync({ url, getAuthToken: () => 't', backoff })

/**
 * Pushes `batches` batches of 5 as one client, each batch re-sent as it was until acked (as a
 * leader does); returns the acked numbers by eventId and the errors seen on the way.
 */
async function writer(connection: SyncConnection, clientId: string, batches: number, acked: Map<string, number>, errors: string[]) {
  for (let b = 0; b < batches; b++) {
    const events: WireEvent[] = wireEvents(clientId, b * 5 + 1, 5)
    for (;;) {
      try {
        const ack = await connection.push(events)
        events.forEach((e, i) => acked.set(e.eventId, ack.assigned[i]!))
        break
      } catch (e) {
        if (!(e instanceof SyncError)) throw e
        errors.push(e.code)
        await sleep(e.code === 'Unavailable' ? Math.min(e.retryAfterMs ?? 1_000, 200) : 30)
      }
    }
  }
}

/** Every acked event is stored once under its acked number; the log is gap-free. */
async function expectLogHolds(n: Node, storeId: string, acked: Map<string, number>) {
  const log = (await n.storage.page(storeId, 0, 1_000_000)).events
  expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1))
  const byId = new Map(log.map((e) => [e.eventId, e.seq]))
  expect(byId.size).toBe(log.length)
  for (const [id, seq] of acked) expect(byId.get(id)).toBe(seq)
  return log
}

describe.runIf(reachable)('postgresStorage: faults and fan-out across nodes', () => {
  it(`3 nodes, ${FAN_SUBSCRIBERS} WebSocket + ${FAN_SUBSCRIBERS} long-poll subscribers, 50 idle stores, 200 writes/s: no gap, no duplicate, through two LISTEN kills`, async () => {
    const schema = freshSchema()
    const logs: string[] = []
    const all = [await node(schema, 'fan-a'), await node(schema, 'fan-b', { logs }), await node(schema, 'fan-c')]
    const subscribers: Tail[] = []
    for (let i = 0; i < FAN_SUBSCRIBERS; i++) {
      subscribers.push(tail(ws(all[i % 3]!.server.wsUrl), 'fan', connections), tail(http(all[(i + 1) % 3]!.server.url), 'fan', connections))
      if (i % 25 === 24) await sleep(5)
    }
    const idle = Array.from({ length: 50 }, (_, i) => tail(ws(all[i % 3]!.server.wsUrl), `idle-${i}`, connections))
    await waitFor(
      () => [...subscribers, ...idle].every((t) => t.connected),
      () => '',
      30_000,
    )
    const w = tail(ws(all[0]!.server.wsUrl), 'fan', connections)
    await waitFor(() => w.connected)
    const failures: unknown[] = []
    const bStats = all[1]!.storage.stats
    // node B's LISTEN connection dies twice mid-stream (the second time once it is back)
    const kills = (async () => {
      for (let k = 0; k < 2; k++) {
        await sleep((FAN_WRITES * 5) / 3)
        await waitFor(
          () => bStats.listenRestored === k,
          () => logs.join('\n'),
          10_000,
        )
        expect(await terminate('cairn-t-fan-b listen')).toBe(1)
      }
    })()
    // the writer makes an event every 5 ms and pushes like Cairn's client does: one push in flight,
    // carrying every event made since the last one (a single event while the server keeps up)
    const start = performance.now()
    let pushed = 0
    let pushes = 0
    while (pushed < FAN_WRITES) {
      const made = Math.min(FAN_WRITES, Math.floor((performance.now() - start) / 5))
      if (made === pushed) {
        await sleep(start + (made + 1) * 5 - performance.now())
        continue
      }
      const count = Math.min(made - pushed, 100)
      try {
        await w.connection.push(wireEvents(w.clientId, pushed + 1, count))
      } catch (e) {
        failures.push(e)
        break
      }
      pushed += count
      pushes++
    }
    const writeMs = performance.now() - start
    await kills
    await waitFor(
      () => subscribers.every((t) => t.cursor >= FAN_WRITES),
      () =>
        `(behind: ${subscribers.filter((t) => t.cursor < FAN_WRITES).length}, e.g. ${subscribers.find((t) => t.cursor < FAN_WRITES)?.cursor}; writer ${w.cursor}, failures ${failures.length} ${failures.slice(0, 2).map(String)}, heads ${JSON.stringify(all.map((n) => n.server.stats.eventsAppended))} ${JSON.stringify(all[0]!.storage.stats)})`,
      90_000,
    )
    expect(failures).toEqual([])
    console.log(
      `fan-out: ${FAN_WRITES} events in ${pushes} pushes over ${Math.round(writeMs)} ms (${Math.round((FAN_WRITES * 1000) / writeMs)}/s) to ${2 * FAN_SUBSCRIBERS} subscribers on 3 nodes`,
    )
    expect(subscribers.filter((t) => t.gaps > 0 || t.duplicates > 0 || t.cursor !== FAN_WRITES)).toEqual([])
    expect(idle.every((t) => t.cursor === 0 && t.gaps === 0)).toBe(true)
    // node B lost LISTEN twice, got it back twice, and its subscribers caught up meanwhile
    await waitFor(
      () => bStats.listenRestored === 2,
      () => logs.join('\n'),
      10_000,
    )
    expect([bStats.listenLost, bStats.listenRestored]).toEqual([2, 2])
    expect(logs.filter((l) => /LISTEN connection dropped/.test(l))).toHaveLength(2)
  }, 150_000)

  it('kill -9 of a node during pushes: every acked event is kept under its number, unacked ones land once on retry', async () => {
    const schema = freshSchema()
    const b = await node(schema, 'k9-b')
    const port = await freePort()
    const startA = async () => {
      const child = spawn(
        process.execPath,
        [
          '--conditions=@cairn/source',
          '--import',
          'tsx',
          join(import.meta.dirname, 'postgres-node-child.ts'),
          schema,
          String(port),
          'cairn-t-k9-a',
        ],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      )
      children.push(child)
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => /port \d+/.test(d.toString()) && resolve())
        child.once('exit', (code) => reject(new Error(`node A exited with ${code}`)))
      })
      return child
    }
    let a = await startA()
    const watcher = tail(ws(b.server.wsUrl), 'k9', connections)
    const acked = new Map<string, number>()
    const errors: string[] = []
    const writers = Array.from({ length: 4 }, () => tail(ws(wsUrl(port)), 'k9', connections))
    await waitFor(
      () => writers.every((t) => t.connected) && watcher.connected,
      () => '',
      15_000,
    )
    const done = Promise.all(writers.map((t) => writer(t.connection, t.clientId, WRITER_BATCHES, acked, errors)))
    for (let kill = 0; kill < 2; kill++) {
      await waitFor(
        () => acked.size >= (kill + 1) * 40,
        () => '',
        15_000,
      )
      const before = acked.size
      a.kill('SIGKILL')
      await new Promise((r) => a.once('exit', r))
      expect(acked.size - before).toBeLessThanOrEqual(20) // nothing acked by a dead node (in flight when killed at most)
      a = await startA()
    }
    await done
    expect(errors.length).toBeGreaterThan(0) // pushes did fail while the node was down
    expect(errors.every((c) => c === 'Disconnected' || c === 'Unavailable')).toBe(true)
    const log = await expectLogHolds(b, 'k9', acked)
    expect(log).toHaveLength(4 * WRITER_BATCHES * 5)
    await waitFor(
      () => watcher.cursor === log.length,
      () => `(${watcher.cursor} of ${log.length})`,
      15_000,
    )
    expect([watcher.gaps, watcher.duplicates]).toEqual([0, 0])
  }, 90_000)

  it("PostgreSQL 'restarting' (every server connection terminated, twice): retryable errors, nodes reconnect by themselves, nothing acked lost", async () => {
    const schema = freshSchema()
    const [a, b] = [await node(schema, 'rs-a'), await node(schema, 'rs-b')]
    const acked = new Map<string, number>()
    const errors: string[] = []
    const writers = [
      tail(ws(a.server.wsUrl), 'rs', connections),
      tail(http(a.server.url), 'rs', connections),
      tail(ws(b.server.wsUrl), 'rs', connections),
      tail(http(b.server.url), 'rs', connections),
    ]
    const watchers = [tail(ws(a.server.wsUrl), 'rs', connections), tail(http(b.server.url), 'rs', connections)]
    await waitFor(
      () => [...writers, ...watchers].every((t) => t.connected),
      () => '',
      15_000,
    )
    const done = Promise.all(writers.map((t) => writer(t.connection, t.clientId, WRITER_BATCHES, acked, errors)))
    let terminated = 0
    for (let round = 1; round <= 2; round++) {
      await waitFor(
        () => acked.size >= round * 80,
        () => '',
        20_000,
      )
      const r = await adminPool().query(
        "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name LIKE 'cairn-t-rs-%'",
      )
      terminated += r.rows[0].n as number
    }
    await done
    expect(terminated).toBeGreaterThanOrEqual(4) // at least both nodes' LISTEN and pool connections
    expect(errors.every((c) => c === 'Unavailable' || c === 'Disconnected')).toBe(true)
    const log = await expectLogHolds(a, 'rs', acked)
    expect(log).toHaveLength(4 * WRITER_BATCHES * 5)
    // Each node lost its LISTEN and is listening again. A round may find a node's LISTEN still
    // reconnecting from the one before (then it loses it once, not twice), and the last reconnect
    // runs on its own backoff, possibly after the writers are done.
    await waitFor(
      () => [a, b].every((n) => n.storage.stats.listenLost >= 1 && n.storage.stats.listenRestored === n.storage.stats.listenLost),
      () => [a, b].map((n) => `${n.storage.stats.listenLost} lost, ${n.storage.stats.listenRestored} restored`).join('; '),
      15_000,
    )
    await waitFor(
      () => watchers.every((t) => t.cursor === log.length),
      () => watchers.map((t) => t.cursor).join(' '),
      15_000,
    )
    expect(watchers.map((t) => t.gaps + t.duplicates)).toEqual([0, 0])
  }, 90_000)
})

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}
