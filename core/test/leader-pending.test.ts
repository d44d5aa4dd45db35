import { createStorePromise, hostLeader, queryDb, type Adapter, type LeaderMessage, type LeaderPort, type Store } from '@cairn/core'
import { makeInMemorySyncServer, type InMemorySyncBackend, type InMemorySyncServer } from '@cairn/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SqliteDb } from '../src/sqlite/db.ts'
import { events, schema, tables } from './fixtures.ts'
import { stateOf, until } from './sync-helpers.ts'

// Several sessions (tabs) of one client share one leader, as with @cairn/adapter-web: the
// leader's messages reach each session late (one per macrotask, as over a BroadcastChannel) and
// appends take a macrotask, so commits of different sessions interleave in the leader.

interface Shared {
  readonly adapter: Adapter
  readonly backend: InMemorySyncBackend
  /** Messages still on their way to sessions. */
  inFlight(): number
}

function sharedLeader(server: InMemorySyncServer, storeId: string): Shared {
  const backend = server.backend({ name: 'tabs' })
  let host: Promise<LeaderPort> | undefined
  let open = 0
  let inFlight = 0
  const later = () => new Promise<void>((resolve) => setTimeout(resolve, 0))
  const adapter: Adapter = {
    name: 'shared',
    async openLeader(options) {
      host ??= SqliteDb.open().then((db) =>
        hostLeader(db, { ...options, sync: { backend, pushTimeoutMs: 2_000 }, onClose: () => db.close() }),
      )
      const leader = await host
      open++
      let closed = false
      return {
        get clientId() {
          return leader.clientId
        },
        syncing: true,
        boot: () => leader.boot(),
        async append(records) {
          await later()
          return leader.append(records)
        },
        readLog: () => leader.readLog(),
        subscribe(listener) {
          // one FIFO per session, so messages keep their order and arrive a macrotask apart
          const queue: LeaderMessage[] = []
          const pump = () => {
            const m = queue.shift()!
            inFlight--
            if (!closed) listener(m)
            if (queue.length > 0) setTimeout(pump, 0)
          }
          return leader.subscribe((m) => {
            inFlight++
            if (queue.push(m) === 1) setTimeout(pump, 0)
          })
        },
        async close() {
          if (closed) return
          closed = true
          if (--open === 0) {
            const closing = leader.close()
            host = undefined
            await closing
          }
        },
      }
    },
  }
  return { adapter, backend, inFlight: () => inFlight }
}

const openTab = (shared: Shared, storeId: string, errors: unknown[]) =>
  createStorePromise({ schema, adapter: shared.adapter, storeId, onError: (e) => errors.push(e) })

const todos = queryDb(tables.todos.orderBy('id'))

describe('receivePending', () => {
  it("shows one tab's commit in the other tab while the server is unreachable, then converges without duplicates", async () => {
    const server = makeInMemorySyncServer({ seed: 3 })
    const shared = sharedLeader(server, 'tabs')
    shared.backend.setOnline(false)
    const errors: unknown[] = []
    const a = await openTab(shared, 'tabs', errors)
    const b = await openTab(shared, 'tabs', errors)
    await a.commit(events.todoCreated({ id: 'a1', text: 'from A' })).persisted
    await until(
      () => b.query(todos).length === 1,
      () => JSON.stringify(b.query(todos)),
    )
    expect(b.query(todos)).toEqual([{ id: 'a1', text: 'from A', completed: false }])
    expect(b.syncStatus.pending).toBe(1)
    // both commit at once: B's event was numbered after a1 only, and must move behind A's a2
    a.commit(events.todoCreated({ id: 'a2', text: 'x' }))
    b.commit(events.counted({ id: 'b1' }))
    a.commit(events.counted({ id: 'a3' }))
    await until(() => shared.inFlight() === 0 && a.syncStatus.pending === 4 && b.syncStatus.pending === 4 && stateOf(a) === stateOf(b))
    expect((await a.readEventlog()).map((e) => e.status)).toEqual(['pending', 'pending', 'pending', 'pending'])
    expect(server.events('tabs')).toHaveLength(0)
    shared.backend.setOnline(true)
    await server.settled([a, b])
    expect(server.events('tabs').map((e) => e.name)).toHaveLength(4)
    expect(new Set(server.events('tabs').map((e) => e.eventId)).size).toBe(4)
    expect(stateOf(b)).toBe(stateOf(a))
    const late = await openTab(shared, 'tabs', errors)
    expect(stateOf(late)).toBe(stateOf(a))
    expect(errors).toEqual([])
    for (const s of [a, b, late]) await s.shutdown()
  })

  it('property: tabs committing in any interleaving, the server coming and going, all show the same state in the end', async () => {
    type Step = { tab: number; kind: 'create' | 'rename' | 'count' | 'wait' | 'toggle'; ticks: number }
    const step: fc.Arbitrary<Step> = fc.record({
      tab: fc.nat(2),
      kind: fc.constantFrom('create', 'rename', 'count', 'wait', 'toggle'),
      ticks: fc.integer({ min: 0, max: 3 }),
    })
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), fc.boolean(), async (steps, startOnline) => {
        const server = makeInMemorySyncServer({ seed: 7 })
        const shared = sharedLeader(server, 'p')
        shared.backend.setOnline(startOnline)
        const errors: unknown[] = []
        const tabs: Store<typeof schema>[] = []
        for (let i = 0; i < 3; i++) tabs.push(await openTab(shared, 'p', errors))
        // another client writing too: its events get in before ours
        const other = await createStorePromise({ schema, adapter: sharedLeader(server, 'p').adapter, storeId: 'p' })
        tabs[0]!.commit(events.todoCreated({ id: 'shared', text: '' }))
        let n = 0
        for (const s of steps) {
          const tab = tabs[s.tab]!
          const id = `t${n++}`
          if (s.kind === 'create') tab.commit(events.todoCreated({ id, text: id }))
          else if (s.kind === 'rename') tab.commit(events.todoRenamed({ id: 'shared', text: id }), events.todoCreated({ id, text: 'r' }))
          else if (s.kind === 'count') tab.commit(events.counted({ id: `c${s.tab}` }))
          else if (s.kind === 'toggle') {
            shared.backend.setOnline(!shared.backend.isOnline)
            other.commit(events.todoCreated({ id: `o${n}`, text: 'other' }))
          }
          for (let t = 0; t < s.ticks; t++) await new Promise((r) => setTimeout(r, 0))
        }
        // offline: every tab shows every tab's commits once the leader logged them
        shared.backend.setOnline(false)
        const head = (t: Store) => t.syncStatus.localHead
        await until(
          () => shared.inFlight() === 0 && tabs.every((t) => head(t) === head(tabs[0]!) && head(t) === t.syncStatus.leaderHead),
          () => JSON.stringify([shared.inFlight(), tabs.map((t) => t.syncStatus)]),
          2000,
        )
        for (const tab of tabs) expect(stateOf(tab)).toBe(stateOf(tabs[0]!))
        shared.backend.setOnline(true)
        await server.settled([...tabs, other])
        await until(() => shared.inFlight() === 0)
        const ids = server.events('p').map((e) => e.eventId)
        expect(new Set(ids).size).toBe(ids.length)
        for (const tab of tabs) expect(stateOf(tab)).toBe(stateOf(other))
        expect(errors).toEqual([])
        for (const s of [...tabs, other]) await s.shutdown()
      }),
      { numRuns: 25 },
    )
  }, 60_000)
})

describe('receiveClientOnly', () => {
  const drafts = queryDb({ query: 'SELECT id, text FROM drafts ORDER BY id' })
  const ui = queryDb({ query: 'SELECT * FROM ui' })

  it("shows one tab's client-only events (a table, a client document) in the other tabs, never on the server", async () => {
    const server = makeInMemorySyncServer({ seed: 5 })
    const shared = sharedLeader(server, 'drafts')
    const errors: unknown[] = []
    const a = await openTab(shared, 'drafts', errors)
    const b = await openTab(shared, 'drafts', errors)
    let seen = 0
    b.subscribe(drafts, () => seen++)
    const before = seen
    await a.commit(events.draftChanged({ text: 'typed in A' })).persisted
    await until(
      () => b.query(drafts).length === 1,
      () => JSON.stringify(b.query(drafts)),
    )
    expect(b.query(drafts)).toEqual([{ id: 'current', text: 'typed in A' }])
    expect(seen).toBeGreaterThan(before)
    a.commit(tables.ui.set({ filter: 'done' }))
    // B's own change, then A's: each tab applies the other's once, in the leader's order
    await b.commit(events.draftChanged({ text: 'then B' })).persisted
    await until(() => shared.inFlight() === 0)
    expect(a.query(drafts)).toEqual([{ id: 'current', text: 'then B' }])
    expect(b.query(drafts)).toEqual([{ id: 'current', text: 'then B' }])
    expect(JSON.stringify(b.query(ui))).toBe(JSON.stringify(a.query(ui)))
    expect(JSON.stringify(b.query(ui))).toContain('done')
    // a tab opened later has them from its snapshot, and re-deliveries change nothing
    const late = await openTab(shared, 'drafts', errors)
    expect(late.query(drafts)).toEqual([{ id: 'current', text: 'then B' }])
    await server.settled([a, b, late])
    expect(server.events('drafts')).toEqual([])
    expect(errors).toEqual([])
    for (const s of [a, b, late]) await s.shutdown()
  })
})
