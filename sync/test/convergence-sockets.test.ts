import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createStorePromise,
  formatSeqNum,
  makeInMemoryAdapter,
  queryDb,
  type Adapter,
  type EventInput,
  type Store,
  type SyncBackend,
} from '@cairn/core'
import fc from 'fast-check'
import WebSocket from 'ws'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeHttpSync, makeWsSync } from '../src/index.ts'
import { createSyncServer, sqliteStorage, type SyncServer, type SyncStorage } from '../src/server/index.ts'
import { FaultProxy, mulberry32, type ProxyFaults } from './fault-proxy.ts'
import { events, schema, tables } from './fixtures.ts'
import { sleep, waitFor } from './helpers.ts'

/**
 * Core's convergence property (core/test/sync-convergence.test.ts) over real sockets: 2-4 clients
 * on WebSocket or long-poll, each behind its own fault-injecting TCP proxy (drops, delays, pushes
 * cut in half or cut after the server got them), committing, going offline and restarting, against
 * a real server with SQLite storage on loopback, with default limits or small pages and pushes.
 * After healing, every client must hold the server's log and the state of a fresh replay. `SOCKET_RUNS=50` runs more; `SYNC_SEED`/`SYNC_PATH` replay.
 */
const runs = Number(process.env.SOCKET_RUNS ?? 5)
const replay = process.env.SYNC_SEED === undefined ? {} : { seed: Number(process.env.SYNC_SEED), path: process.env.SYNC_PATH }

type Action =
  | { kind: 'commit'; client: number; event: number; id: number }
  | { kind: 'offline' | 'online' | 'restart'; client: number }
  | { kind: 'wait'; ms: number }

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('commit' as const), client: fc.nat(3), event: fc.nat(4), id: fc.nat(4) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constantFrom('offline' as const, 'online' as const, 'restart' as const), client: fc.nat(3) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 40 }) }) },
)

const faults: fc.Arbitrary<ProxyFaults> = fc.record({
  drop: fc.constantFrom(0, 0.02, 0.1),
  delay: fc.constantFrom(0, 0.1, 0.3),
  maxDelayMs: fc.constantFrom(5, 30),
  cutMidPush: fc.constantFrom(0, 0.1, 0.3),
  cutAfterPush: fc.constantFrom(0, 0.1, 0.3),
})

function eventFor(kind: number, id: number, text: string): EventInput {
  const todo = `t${id}`
  switch (kind) {
    case 0:
      return events.todoCreated({ id: todo, text })
    case 1:
      return events.todoRenamed({ id: todo, text })
    case 2:
      return events.todoCompleted({ id: todo })
    case 3:
      return events.counted({ id: `c${id}` }) // reads state: its result depends on the order
    default:
      return events.draftChanged({ text }) // client-only: never synced
  }
}

const stateOf = (store: Store) =>
  JSON.stringify({ todos: store.query(queryDb(tables.todos.orderBy('id'))), stats: store.query(queryDb(tables.stats.orderBy('id'))) })
const headOf = (store: Store) => Number(/^e(\d+)/.exec(store.syncStatus.localHead)?.[1] ?? -1)

const dir = mkdtempSync(join(tmpdir(), 'cairn-conv-'))
// Two servers on one storage: default limits, and small pages and pushes, where a catch-up page
// after a lost ack holds a client's oldest pending event, others' events, and not the rest of its own.
const servers = {} as Record<'default' | 'small', SyncServer>
let storage: SyncStorage
beforeAll(async () => {
  storage = sqliteStorage(join(dir, 'sync.db'))
  const options = { port: 0, storage, schema, authorize: () => ({ principal: 'tester' }) }
  servers.default = await createSyncServer({ ...options, limits: { pushesPerSecond: 10_000 } })
  servers.small = await createSyncServer({ ...options, limits: { pushesPerSecond: 10_000, pullPageSize: 2, maxEventsPerPush: 2 } })
})
afterAll(async () => {
  await servers.default.close()
  await servers.small.close()
  rmSync(dir, { recursive: true, force: true })
})

let runCounter = 0
const totals = { connections: 0, faults: 0, delayed: 0 }
afterAll(() => console.log(`fault proxy over ${runCounter} runs: ${JSON.stringify(totals)}`))

describe('sync convergence over real sockets (property, fault proxy)', () => {
  it('every client ends with 0 pending, the server log and the state of a fresh replay', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.array(fc.constantFrom('ws' as const, 'http' as const), { minLength: 2, maxLength: 4 }),
        faults,
        fc.constantFrom('default' as const, 'small' as const),
        fc.array(action, { minLength: 5, maxLength: 40 }),
        async (seed, transports, networkFaults, limits, actions) => {
          const server = servers[limits]
          const storeId = `conv-${++runCounter}`
          const random = mulberry32(seed)
          const context = () => `(seed ${seed}, transports ${transports}, faults ${JSON.stringify(networkFaults)}, ${limits} limits)`
          const backendFor = (transport: 'ws' | 'http', port: number): SyncBackend => {
            const backoff = { baseMs: 10, capMs: 100 }
            return transport === 'ws'
              ? makeWsSync({
                  url: `ws://127.0.0.1:${port}`,
                  getAuthToken: () => 't',
                  WebSocket,
                  backoff,
                  pingIntervalMs: 500,
                  pongTimeoutMs: 1_000,
                })
              : makeHttpSync({ url: `http://127.0.0.1:${port}`, getAuthToken: () => 't', backoff, requestTimeoutMs: 5_000 })
          }
          const open = (adapter: Adapter, backend: SyncBackend) =>
            createStorePromise({ schema, adapter, storeId, onError: () => {}, sync: { backend, pushTimeoutMs: 1_500 } })
          const slots: { proxy: FaultProxy; adapter: Adapter; backend: SyncBackend; store: Store; synced: number }[] = []
          let fresh: Store | undefined
          try {
            for (const transport of transports) {
              const proxy = await new FaultProxy(server.port, networkFaults, random).start()
              const adapter = makeInMemoryAdapter()
              const backend = backendFor(transport, proxy.port)
              slots.push({ proxy, adapter, backend, store: await open(adapter, backend), synced: 0 })
            }
            let counter = 0
            for (const a of actions) {
              if (a.kind === 'wait') {
                await sleep(a.ms)
                continue
              }
              const slot = slots[a.client % slots.length]!
              if (a.kind === 'commit') {
                try {
                  slot.store.commit(eventFor(a.event, a.id, `c${a.client}-${counter++}`))
                  if (a.event !== 4) slot.synced++
                } catch {
                  // refused locally: nothing was committed
                }
              } else if (a.kind === 'offline') slot.proxy.setOnline(false)
              else if (a.kind === 'online') slot.proxy.setOnline(true)
              else {
                await slot.store.shutdown()
                slot.store = await open(slot.adapter, slot.backend)
              }
            }
            for (const s of slots) {
              s.proxy.setFaults({})
              s.proxy.setOnline(true)
            }
            const serverHead = async () => (await storage.info(storeId)).head
            let head = await serverHead()
            await waitFor(
              () => {
                void serverHead().then((h) => (head = h))
                return slots.every((s) => s.store.syncStatus.pending === 0 && headOf(s.store) === head)
              },
              () => `${context()} ${slots.map((s) => JSON.stringify(s.store.syncStatus)).join('; ')}; server head ${head}`,
              20_000,
            )
            const log = (await storage.page(storeId, 0, 100_000)).events
            expect(new Set(log.map((e) => e.eventId)).size, `each eventId once ${context()}`).toBe(log.length)
            expect(log.length, `every committed synced event reached the server ${context()}`).toBe(slots.reduce((n, s) => n + s.synced, 0))
            const serverLog = log.map((e) => `e${e.seq} ${e.eventId} confirmed`)
            fresh = await open(makeInMemoryAdapter(), backendFor('ws', server.port))
            await waitFor(() => headOf(fresh!) === log.length, context, 20_000)
            const expected = stateOf(fresh)
            for (const [i, s] of slots.entries()) {
              const synced = (await s.store.readEventlog())
                .filter((e) => !e.clientOnly)
                .map((e) => `${formatSeqNum(e.seqNum)} ${e.eventId} ${e.status}`)
              expect(synced, `client ${i} log ${context()}`).toEqual(serverLog)
              expect(stateOf(s.store), `client ${i} state ${context()}`).toBe(expected)
            }
          } finally {
            await fresh?.shutdown()
            for (const s of slots) {
              await s.store.shutdown()
              await s.proxy.close()
              for (const k of ['connections', 'faults', 'delayed'] as const) totals[k] += s.proxy.stats[k]
            }
          }
        },
      ),
      { numRuns: runs, ...replay, endOnFailure: true },
    )
  }, 600_000)
})
