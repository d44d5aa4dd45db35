import { makeInMemoryAdapter, type Adapter, type EventInput } from '@cairn/core'
import { makeInMemorySyncServer, type InMemorySyncBackend, type NetworkFaults } from '@cairn/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { events } from './fixtures.ts'
import { makeClient, stateOf, syncedLog, type Client } from './sync-helpers.ts'

/**
 * N clients commit at random, go offline, restart and suffer network faults; after healing, all
 * must agree with the server. `SOAK_RUNS` raises the number of runs (`npm run soak`); a failure
 * prints fast-check's seed and path: `SYNC_SEED=<seed> SYNC_PATH=<path>` replays that run.
 */
const runs = Number(process.env.SOAK_RUNS ?? 12)
const replay = process.env.SYNC_SEED === undefined ? {} : { seed: Number(process.env.SYNC_SEED), path: process.env.SYNC_PATH }

type Action =
  | { kind: 'commit'; client: number; event: number; id: number }
  | { kind: 'offline' | 'online' | 'restart'; client: number }
  | { kind: 'wait'; ticks: number }

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('commit' as const), client: fc.nat(7), event: fc.nat(5), id: fc.nat(5) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constantFrom('offline' as const, 'online' as const, 'restart' as const), client: fc.nat(7) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), ticks: fc.integer({ min: 1, max: 6 }) }) },
)

const faults: fc.Arbitrary<NetworkFaults> = fc.record({
  drop: fc.constantFrom(0, 0.02, 0.1),
  duplicate: fc.constantFrom(0, 0.05, 0.2),
  delay: fc.constantFrom(0, 0.1, 0.3),
  reorder: fc.constantFrom(0, 0.1),
  disconnectBeforeSend: fc.constantFrom(0, 0.05),
  disconnectAfterStored: fc.constantFrom(0, 0.05, 0.2),
  disconnectAfterAck: fc.constantFrom(0, 0.05),
})

// Small pages and pushes: a catch-up page then holds some of a client's events, others' after
// them, and not the rest of its pending events (the case a lost ack leads to).
const limits = fc.record({ pullPageSize: fc.constantFrom(1, 2, 3, 5, 400), maxEventsPerPush: fc.constantFrom(1, 2, 3, 100) })

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
      return events.noteAdded({ id: `${text}`, body: text })
    case 4:
      return events.counted({ id: `c${id}` }) // reads state: its result depends on the order
    default:
      return events.draftChanged({ text }) // client-only: never synced
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('sync convergence (property)', () => {
  it('every client ends with 0 pending, the server log and the same state as a fresh replay', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 2, max: 8 }),
        faults,
        limits,
        fc.array(action, { minLength: 5, maxLength: 60 }),
        async (seed, n, networkFaults, serverLimits, actions) => {
          const server = makeInMemorySyncServer({ seed, faults: networkFaults, limits: serverLimits })
          const context = () =>
            `(seed ${seed}, ${n} clients, faults ${JSON.stringify(networkFaults)}, limits ${JSON.stringify(serverLimits)})`
          const slots: { adapter: Adapter; backend: InMemorySyncBackend; client: Client; synced: number }[] = []
          for (let i = 0; i < n; i++) {
            const adapter = makeInMemoryAdapter()
            const backend = server.backend({ name: `c${i}` })
            slots.push({ adapter, backend, client: await makeClient(server, `c${i}`, { adapter, backend }), synced: 0 })
          }
          let counter = 0
          try {
            for (const a of actions) {
              if (a.kind === 'wait') {
                for (let t = 0; t < a.ticks; t++) await tick()
                continue
              }
              const slot = slots[a.client % n]!
              if (a.kind === 'commit') {
                const event = eventFor(a.event, a.id, `${slot.client.name}-${counter++}`)
                try {
                  slot.client.store.commit(event)
                  if (a.event !== 5) slot.synced++
                } catch {
                  // refused locally (e.g. a duplicate id): nothing was committed
                }
              } else if (a.kind === 'offline') slot.backend.setOnline(false)
              else if (a.kind === 'online') slot.backend.setOnline(true)
              else {
                await slot.client.store.shutdown()
                slot.client = await makeClient(server, slot.client.name, { adapter: slot.adapter, backend: slot.backend })
              }
            }
            server.setFaults({})
            for (const s of slots) s.backend.setOnline(true)
            const stores = slots.map((s) => s.client.store)
            await server.settled(stores)

            const log = server.events('shared')
            const serverLog = log.map((e) => `e${e.seq} ${e.eventId} confirmed`)
            expect(new Set(log.map((e) => e.eventId)).size, `each eventId once ${context()}`).toBe(log.length)
            expect(log.length, `every committed synced event reached the server ${context()}`).toBe(
              slots.reduce((sum, s) => sum + s.synced, 0),
            )
            const fresh = await makeClient(server, 'fresh')
            await server.settled([...stores, fresh.store])
            const expected = stateOf(fresh.store)
            for (const s of slots) {
              expect(s.client.store.syncStatus.pending, `${s.client.name} pending ${context()}`).toBe(0)
              expect(await syncedLog(s.client.store), `${s.client.name} log ${context()}`).toEqual(serverLog)
              expect(stateOf(s.client.store), `${s.client.name} state ${context()}`).toBe(expected)
            }
            await fresh.store.shutdown()
          } finally {
            for (const s of slots) await s.client.store.shutdown()
          }
        },
      ),
      { numRuns: runs, ...replay, endOnFailure: true },
    )
  }, 600_000)
})
