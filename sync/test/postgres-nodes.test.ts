import { SyncError, type SyncConnection } from '@cairn/core'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { makeHttpSync, makeWsSync } from '../src/index.ts'
import { ev } from './conformance/storage-suite.ts'
import { sleep, waitFor, wireEvents } from './helpers.ts'
import { adminPool, freshSchema, pgStorage, reachable, startNode, tail, terminate } from './postgres-fixture.ts'

// CI-sized by default; PG_SOAK=1 runs the counts of the issue for longer
const soak = process.env.PG_SOAK === '1'
const ROUNDS = soak ? 50 : 6
const VISIBILITY_MS = soak ? 30_000 : 5_000
const FAN_WRITES = soak ? 4_000 : 500

type Node = Awaited<ReturnType<typeof startNode>>
const nodes: Node[] = []
const connections: SyncConnection[] = []
afterEach(async () => {
  for (const c of connections.splice(0)) await c.close()
  for (const n of nodes.splice(0)) await n.server.close()
})
async function node(schema: string, name: string, options: { pollMs?: number; logs?: string[] } = {}): Promise<Node> {
  const n = await startNode(schema, name, options)
  nodes.push(n)
  return n
}

const ws = (n: Node) => makeWsSync({ url: n.server.wsUrl, getAuthToken: () => 't', WebSocket, backoff: { baseMs: 20, capMs: 300 } })
const http = (n: Node) => makeHttpSync({ url: n.server.url, getAuthToken: () => 't', backoff: { baseMs: 20, capMs: 300 } })

describe.runIf(reachable)('postgresStorage: several nodes', () => {
  it(`32 concurrent pushes to one store from 3 nodes get one gap-free number each (${ROUNDS} rounds)`, async () => {
    const schema = freshSchema()
    const [a, b, c] = [await node(schema, 'p32-a'), await node(schema, 'p32-b'), await node(schema, 'p32-c')]
    const writers = Array.from({ length: 32 }, (_, i) => tail([ws(a), ws(b), http(c)][i % 3]!, 'hot', connections))
    await waitFor(
      () => writers.every((w) => w.connected),
      () => '',
      15_000,
    )
    const numbers: number[] = []
    const failures: unknown[] = []
    for (let round = 1; round <= ROUNDS; round++) {
      await Promise.all(
        writers.map(async (w) => {
          try {
            const ack = await w.connection.push(wireEvents(w.clientId, round, 1))
            numbers.push(...ack.assigned)
          } catch (e) {
            failures.push(e)
          }
        }),
      )
    }
    expect(failures).toEqual([])
    expect(numbers.sort((x, y) => x - y)).toEqual(Array.from({ length: 32 * ROUNDS }, (_, i) => i + 1))
    const stored = await a.storage.page('hot', 0, 100_000)
    expect(stored.events.map((e) => e.seq)).toEqual(numbers)
    expect(new Set(stored.events.map((e) => e.eventId)).size).toBe(32 * ROUNDS)
    // every node's subscribers (the writers themselves) saw every event once
    await waitFor(
      () => writers.every((w) => w.cursor === 32 * ROUNDS),
      () => '',
      15_000,
    )
    expect(writers.map((w) => w.gaps + w.duplicates)).toEqual(writers.map(() => 0))
  }, 60_000)

  it('visibility: a writer holding its transaction 0-2 s (some roll back) never lets a tailing reader skip or stall', async () => {
    const schema = freshSchema()
    const storages = [await pgStorage({ schema }), await pgStorage({ schema }), await pgStorage({ schema })]
    const q = (t: string) => `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(t)}`
    await storages[0]!.info('vis')
    const stop = Date.now() + VISIBILITY_MS
    const acked = new Map<string, number>() // eventId -> number, over both stores
    const rolledBack = new Set<string>()
    const ackedAt = new Map<string, number>() // `${store}:${seq}` -> when acked

    // the slow writer: the storage's own transaction by hand, held open 0-2 s, a third rolled back
    const slow = (async () => {
      const client = await adminPool().connect()
      let producerSeq = 0
      let round = 0
      try {
        while (Date.now() < stop) {
          const count = 1 + Math.floor(Math.random() * 3)
          // every third transaction rolls back, the first included: a run always has one
          const rollBack = round++ % 3 === 0
          await client.query('BEGIN ISOLATION LEVEL READ COMMITTED')
          const head = (
            await client.query<{ head: string }>(
              `UPDATE ${q('cairn_sync_stores')} SET head = head + $2 WHERE store_id = $1 RETURNING head`,
              ['vis', count],
            )
          ).rows[0]!.head
          const base = Number(head) - count
          const ids = Array.from({ length: count }, (_, i) => `slow-${producerSeq + 1 + i}-${Math.random().toString(36).slice(2, 6)}`)
          for (let i = 0; i < count; i++) {
            await client.query(
              `INSERT INTO ${q('cairn_sync_events')} (store_id, seq, event_id, client_id, producer_seq, session_id, name, args) VALUES ('vis', $1, $2, 'slow', $3, 's', 'v1.Thing', '{}')`,
              [base + 1 + i, ids[i], producerSeq + 1 + i],
            )
          }
          await sleep(Math.random() * 2_000)
          if (rollBack) {
            await client.query('ROLLBACK')
            for (const id of ids) rolledBack.add(id)
          } else {
            await client.query('COMMIT')
            const now = Date.now()
            ids.forEach((id, i) => {
              acked.set(id, base + 1 + i)
              ackedAt.set(`vis:${base + 1 + i}`, now)
            })
            producerSeq += count
          }
        }
      } finally {
        client.release()
      }
    })()

    // fast writers through the storages (three nodes), to the held store and to another one
    const fast = [0, 1, 2].map(async (i) => {
      let producerSeq = 0
      while (Date.now() < stop) {
        const store = producerSeq % 2 === 0 ? 'vis' : 'other'
        const events = [ev(`f${i}-${store}`, Math.floor(producerSeq / 2) + 1, `f${i}-${producerSeq}`)]
        const r = await storages[i]!.append(store, events, undefined)
        acked.set(events[0]!.eventId, r.assigned[0]!)
        ackedAt.set(`${store}:${r.assigned[0]!}`, Date.now())
        producerSeq++
        await sleep(5)
      }
    })

    // tailing readers on every node, by cursor: each page must continue exactly where the last ended
    const seen = new Map<string, string[]>()
    let maxLagMs = 0
    const readers = ['vis', 'other'].flatMap((store) =>
      storages.map(async (s, i) => {
        let cursor = 0
        const ids: string[] = []
        seen.set(`${store}:${i}`, ids)
        while (Date.now() < stop + 2_500) {
          const page = await s.page(store, cursor, 50)
          for (const e of page.events) {
            expect(e.seq).toBe(cursor + 1)
            cursor = e.seq
            ids.push(e.eventId)
            const at = ackedAt.get(`${store}:${e.seq}`)
            if (at !== undefined) maxLagMs = Math.max(maxLagMs, Date.now() - at)
          }
          if (page.events.length === 0) await sleep(2)
        }
      }),
    )
    await Promise.all([slow, ...fast, ...readers])

    for (const store of ['vis', 'other']) {
      const all = (await storages[0]!.page(store, 0, 1_000_000)).events
      expect(all.map((e) => e.seq)).toEqual(all.map((_, i) => i + 1))
      for (let i = 0; i < 3; i++) expect(seen.get(`${store}:${i}`)).toEqual(all.map((e) => e.eventId))
    }
    const everything = new Map(
      [...(await storages[0]!.page('vis', 0, 1_000_000)).events, ...(await storages[0]!.page('other', 0, 1_000_000)).events].map((e) => [
        e.eventId,
        e.seq,
      ]),
    )
    for (const [id, seq] of acked) expect(everything.get(id)).toBe(seq)
    for (const id of rolledBack) expect(everything.has(id)).toBe(false)
    expect(rolledBack.size).toBeGreaterThan(0)
    // a reader sees an event within a few polls of its commit, whatever transaction is still open
    expect(maxLagMs).toBeLessThan(500)
    for (const s of storages) await s.close()
  }, 60_000)

  it('a write on one node reaches WebSocket and long-poll subscribers on another at once, by NOTIFY (no poll)', async () => {
    const schema = freshSchema()
    // a poll once a minute: only NOTIFY (and the head read when a store is first followed) can be this fast
    const [a, b] = [await node(schema, 'hint-a', { pollMs: 60_000 }), await node(schema, 'hint-b', { pollMs: 60_000 })]
    const writer = tail(ws(a), 'hint', connections)
    const readers = [tail(ws(b), 'hint', connections), tail(http(b), 'hint', connections)]
    await waitFor(() => writer.connected && readers.every((r) => r.connected))
    const slowest: number[] = []
    for (let i = 1; i <= 10; i++) {
      await writer.connection.push(wireEvents(writer.clientId, i, 1))
      const t = performance.now()
      await waitFor(
        () => readers.every((r) => r.cursor === i),
        () => readers.map((r) => r.cursor).join(' '),
        3_000,
      )
      slowest.push(performance.now() - t)
      await sleep(i % 2 === 0 ? 0 : 50) // with and without a pause: long-polls mid-request and held
    }
    expect(Math.max(...slowest)).toBeLessThan(1_000)
    expect(readers.map((r) => r.gaps + r.duplicates)).toEqual([0, 0])
    expect(b.storage.stats.caughtUp).toBe(0) // nothing needed the poll
  }, 30_000)
})
