import {
  CairnError,
  createStorePromise,
  type Adapter,
  makeInMemoryAdapter,
  makeSchema,
  queryDb,
  State,
  syncStatus$,
  SyncError,
  type ServerEvent,
  type SyncBackend,
} from '@cairn/core'
import { makeInMemorySyncServer } from '@cairn/core/testing'
import { Leader } from '../src/leader/leader.ts'
import { SqliteDb } from '../src/sqlite/db.ts'
import { LeaderSync } from '../src/sync/leader-sync.ts'
import { describe, expect, it } from 'vitest'
import { events, materializers, schema, tables } from './fixtures.ts'
import { makeClient, stateOf, syncedLog, until } from './sync-helpers.ts'

const todos = queryDb(tables.todos.orderBy('id'))

describe('sync: the walkthrough', () => {
  it('A and B both commit after e2; B wins e3; A rolls back, applies B:e3 and replays its event as e4', async () => {
    const server = makeInMemorySyncServer({ seed: 1 })
    const a = await makeClient(server, 'A')
    const b = await makeClient(server, 'B')
    b.store.commit(events.todoCreated({ id: 't1', text: 'one' }))
    b.store.commit(events.todoCreated({ id: 't2', text: 'two' }))
    await server.settled([a.store, b.store])

    const who = (clientId: string) => (clientId === a.store.clientId ? 'A' : 'B')
    const timeline: string[] = []
    const leaderLog = async () =>
      (await a.store.readEventlog())
        .map(
          (e) =>
            `${who(e.clientId)}:e${e.seqNum.global}${e.seqNum.rebaseGeneration ? `r${e.seqNum.rebaseGeneration}` : ''}${e.status === 'pending' ? "'" : ''}`,
        )
        .join(' ')
    const serverLog = () =>
      server
        .events('shared')
        .map((e) => `${who(e.clientId)}:e${e.seq}`)
        .join(' ')
    a.store.subscribe(syncStatus$, (s) => {
      const line = `session ${s.localHead} (${s.pending} pending), leader ${s.leaderHead}, server ${s.serverHead}`
      if (timeline[timeline.length - 1] !== line) timeline.push(line) // connected/error changes are not shown
    })

    a.backend.setOnline(false)
    const handle = a.store.commit(events.todoRenamed({ id: 't1', text: 'renamed by A' }))
    await handle.persisted
    expect([await leaderLog(), serverLog()]).toEqual([
      "B:e1 B:e2 A:e3'", // A's leader logged A:e3 as pending (not materialized in the leader)
      'B:e1 B:e2', // the server has not seen it
    ])

    b.store.commit(events.todoCompleted({ id: 't1' }))
    await until(() => server.head('shared') === 3)
    expect(serverLog()).toBe('B:e1 B:e2 B:e3') // B won e3

    a.backend.setOnline(true)
    await handle.confirmed
    await server.settled([a.store, b.store])
    expect([await leaderLog(), serverLog()]).toEqual(['B:e1 B:e2 B:e3 A:e4', 'B:e1 B:e2 B:e3 A:e4'])
    expect(timeline).toEqual([
      'session e2 (0 pending), leader e2, server e2', // 1. in sync at e2
      'session e3 (1 pending), leader e2, server e2', // 2. A commits offline: e3 pending in the session
      'session e3 (1 pending), leader e3, server e2', // 3. its leader logged e3 (pending)
      'session e3 (1 pending), leader e3, server e3', // 4. online again: the server's head is e3 (B's)
      'session e4r1 (1 pending), leader e4r1, server e3', // 5. B:e3 arrived: rolled back, applied, A's event replayed as e4r1
      'session e4 (0 pending), leader e4, server e4', // 6. the server ordered A's event as e4
    ])
    // both orders applied: completed by B's e3, renamed by A's e4
    expect(a.store.query(todos)[0]).toEqual({ id: 't1', text: 'renamed by A', completed: true })
    expect(stateOf(a.store)).toBe(stateOf(b.store))
    expect(a.errors).toEqual([])
    await a.store.shutdown()
    await b.store.shutdown()
  })
})

describe('sync: offline and persistence', () => {
  it('keeps events committed offline pending in the leader log across a restart, then pushes them', async () => {
    const server = makeInMemorySyncServer({ seed: 2 })
    const adapter = makeInMemoryAdapter()
    const backend = server.backend()
    backend.setOnline(false)
    const first = await makeClient(server, 'A', { adapter, backend })
    first.store.commit(events.todoCreated({ id: 'a', text: 'offline 1' }))
    first.store.commit(events.todoCreated({ id: 'b', text: 'offline 2' }))
    expect(first.store.syncStatus).toMatchObject({ pending: 2, connected: false })
    await first.store.shutdown()

    const second = await makeClient(server, 'A', { adapter, backend })
    expect(second.store.syncStatus.pending).toBe(2) // still pending after the restart
    expect(second.store.query(todos).map((t) => t.text)).toEqual(['offline 1', 'offline 2'])
    expect(server.head('shared')).toBe(0)
    backend.setOnline(true)
    await server.settled([second.store])
    expect(server.events('shared').map((e) => e.args)).toEqual([
      { id: 'a', text: 'offline 1' },
      { id: 'b', text: 'offline 2' },
    ])
    expect(await syncedLog(second.store)).toEqual(server.events('shared').map((e) => `e${e.seq} ${e.eventId} confirmed`))
    await second.store.shutdown()
  })

  it('resolves handle.confirmed only once the server has ordered the event', async () => {
    const server = makeInMemorySyncServer({ seed: 3 })
    const a = await makeClient(server, 'A')
    a.backend.setOnline(false)
    const handle = a.store.commit(events.todoCreated({ id: 'a', text: '' }))
    let confirmed = false
    void handle.confirmed.then(() => (confirmed = true))
    await handle.persisted
    await until(() => a.store.syncStatus.leaderHead === 'e1')
    expect(confirmed).toBe(false)
    a.backend.setOnline(true)
    await handle.confirmed
    expect(server.head('shared')).toBe(1)
    await a.store.shutdown()
  })

  it('never sends client-only events; they keep the global number and count up client', async () => {
    const server = makeInMemorySyncServer({ seed: 4 })
    const a = await makeClient(server, 'A')
    a.store.commit(events.todoCreated({ id: 'a', text: '' }))
    await server.settled([a.store])
    const draft = a.store.commit(events.draftChanged({ text: 'one' }), events.draftChanged({ text: 'two' }))
    await draft.confirmed
    a.store.commit(events.todoCreated({ id: 'b', text: '' }))
    await server.settled([a.store])
    expect(server.events('shared').map((e) => e.name)).toEqual(['v1.TodoCreated', 'v1.TodoCreated'])
    const log = (await a.store.readEventlog()).map(
      (e) => `e${e.seqNum.global}${e.seqNum.client ? `.${e.seqNum.client}` : ''} ${e.name} ${e.status}`,
    )
    expect(log).toEqual([
      'e1 v1.TodoCreated confirmed',
      'e1.1 DraftChanged confirmed',
      'e1.2 DraftChanged confirmed',
      'e2 v1.TodoCreated confirmed',
    ])
    await a.store.shutdown()
  })
})

describe('syncStatus', () => {
  it('reports connection, heads and pending, reactively', async () => {
    const server = makeInMemorySyncServer({ seed: 5 })
    const a = await makeClient(server, 'A')
    const seen: boolean[] = []
    a.store.subscribe(syncStatus$, (s) => {
      if (seen[seen.length - 1] !== s.connected) seen.push(s.connected)
    })
    await until(() => a.store.syncStatus.connected)
    a.backend.setOnline(false)
    await until(() => !a.store.syncStatus.connected)
    a.store.commit(events.todoCreated({ id: 'a', text: '' }))
    expect(a.store.syncStatus).toMatchObject({ pending: 1, connected: false, serverHead: 'e0' })
    a.backend.setOnline(true)
    await server.settled([a.store])
    expect(a.store.syncStatus).toEqual({ pending: 0, localHead: 'e1', leaderHead: 'e1', serverHead: 'e1', connected: true, error: null })
    expect(seen).toEqual([false, true, false, true])
    await a.store.shutdown()
  })
})

describe('onBackendIdMismatch', () => {
  async function afterWipe(policy: 'reset' | 'shutdown' | 'ignore') {
    const server = makeInMemorySyncServer({ seed: 6 })
    const adapter = makeInMemoryAdapter()
    const backend = server.backend()
    const a = await makeClient(server, 'A', { adapter, backend, onBackendIdMismatch: policy })
    a.store.commit(events.todoCreated({ id: 'a', text: '' }))
    await server.settled([a.store])
    backend.setOnline(false)
    server.wipe('shared')
    backend.setOnline(true)
    return { server, adapter, backend, a }
  }

  it("'reset' clears local data and shuts the store down with the reason", async () => {
    const { server, adapter, backend, a } = await afterWipe('reset')
    await until(() => a.store.isShutdown)
    expect(a.store.shutdownCause).toMatch(/backendId.*cleared.*'reset'/)
    const again = await makeClient(server, 'A', { adapter, backend: server.backend() })
    expect(again.store.query(todos)).toEqual([]) // the local data is gone
    void backend
    await again.store.shutdown()
  })

  it("'shutdown' shuts down keeping local data", async () => {
    const { server, adapter, a } = await afterWipe('shutdown')
    await until(() => a.store.isShutdown)
    expect(a.store.shutdownCause).toMatch(/kept|keeping its local data/)
    const again = await createStorePromise({ schema, adapter, storeId: 'shared' })
    expect(again.query(todos).map((t) => t.id)).toEqual(['a'])
    void server
    await again.shutdown()
  })

  it('reports a reset that fails and a leader that fails to close, and still shuts the store down', async () => {
    // a platform adapter whose files cannot be removed and whose leader fails to close
    const server = makeInMemorySyncServer({ seed: 6 })
    const backend = server.backend()
    const errors: unknown[] = []
    const report = (e: unknown) => errors.push(e)
    const leader = Leader.open(await SqliteDb.open(), schema, {
      clientId: 'c1',
      onProgress: undefined,
      warn: () => {},
      reportError: report,
    })
    const syncer = new LeaderSync(
      leader,
      'shared',
      { backend, onBackendIdMismatch: 'reset' },
      { reportError: report, reset: () => Promise.reject(new Error('cannot remove the files')) },
    )
    const adapter: Adapter = {
      name: 'failing-reset',
      openLeader: async () => ({
        clientId: leader.clientId,
        boot: async () => leader.snapshot(),
        append: async (events) => {
          const result = leader.append(events)
          syncer.pushNext()
          return result
        },
        subscribe: (listener) => leader.subscribe(listener),
        readLog: async () => leader.logEntries(),
        close: async () => {
          await syncer.close()
          throw new Error('the leader failed to close')
        },
      }),
    }
    const store = await createStorePromise({ schema, adapter, storeId: 'shared', onError: report })
    store.commit(events.todoCreated({ id: 'a', text: '' }))
    await server.settled([store])
    backend.setOnline(false)
    server.wipe('shared')
    backend.setOnline(true)
    await until(() => store.isShutdown)
    const messages = () => errors.map((e) => (e as Error).message)
    await until(
      () => messages().includes('cannot remove the files') && messages().includes('the leader failed to close'),
      () => messages().join('; '),
    )
  })

  it("'ignore' keeps working offline and says why in syncStatus", async () => {
    const { a } = await afterWipe('ignore')
    await until(() => a.store.syncStatus.error !== null)
    expect(a.store.syncStatus).toMatchObject({ connected: false, error: { code: 'BackendIdMismatch' } })
    a.store.commit(events.todoCreated({ id: 'b', text: '' }))
    expect(a.store.query(todos).map((t) => t.id)).toEqual(['a', 'b'])
    expect(a.errors.some((e) => e instanceof SyncError && e.code === 'BackendIdMismatch')).toBe(true)
    await a.store.shutdown()
  })
})

describe('idempotency', () => {
  it('recognises a push re-sent after the ack was lost: stored once', async () => {
    const server = makeInMemorySyncServer({ seed: 7, faults: { disconnectAfterStored: 1 } })
    const a = await makeClient(server, 'A')
    await until(() => a.store.syncStatus.connected)
    a.store.commit(events.todoCreated({ id: 'a', text: '' }))
    await until(() => server.head('shared') === 1)
    server.setFaults({})
    await server.settled([a.store])
    expect(server.events('shared')).toHaveLength(1)
    expect(server.stats.duplicatesAcked).toBeGreaterThanOrEqual(1)
    expect(await syncedLog(a.store)).toEqual([`e1 ${server.events('shared')[0]!.eventId} confirmed`])
    await a.store.shutdown()
  })

  it('detects a client id collision and continues under a new id without losing events', async () => {
    const server = makeInMemorySyncServer({ seed: 8 })
    const a = await makeClient(server, 'A')
    a.store.commit(events.todoCreated({ id: 'a', text: '' }))
    await server.settled([a.store])
    // a second device that ended up with A's client id (e.g. a copied profile)
    const twin = await makeClient(server, 'twin', { adapter: makeInMemoryAdapter({ clientId: a.store.clientId }) })
    expect(twin.store.clientId).toBe(a.store.clientId)
    twin.store.commit(events.todoCreated({ id: 'twin', text: '' }))
    await server.settled([a.store, twin.store])
    expect(twin.store.clientId).not.toBe(a.store.clientId)
    expect(twin.errors.some((e) => e instanceof CairnError && e.code === 'ClientIdChanged')).toBe(true)
    expect(server.events('shared').map((e) => (e.args as { id: string }).id)).toEqual(['a', 'twin'])
    expect(stateOf(twin.store)).toBe(stateOf(a.store))
    await a.store.shutdown()
    await twin.store.shutdown()
  })
})

describe('rebase', () => {
  it('gives a materializer that reads state (ctx.query) the right result after a rebase', async () => {
    const server = makeInMemorySyncServer({ seed: 9 })
    const a = await makeClient(server, 'A')
    const b = await makeClient(server, 'B')
    a.backend.setOnline(false)
    a.store.commit(events.counted({ id: 'count' })) // counts 0 todos locally
    expect(a.store.query(queryDb(tables.stats))).toEqual([{ id: 'count', n: 0 }])
    b.store.commit(events.todoCreated({ id: 'x', text: '' }), events.todoCreated({ id: 'y', text: '' }))
    await until(() => server.head('shared') === 2)
    a.backend.setOnline(true)
    await server.settled([a.store, b.store])
    // replayed after B's two todos, so it counted 2, on both clients
    expect(a.store.query(queryDb(tables.stats))).toEqual([{ id: 'count', n: 2 }])
    expect(stateOf(a.store)).toBe(stateOf(b.store))
    await a.store.shutdown()
    await b.store.shutdown()
  })

  it('replays its pending events with the args they were committed with (not parsed and validated again)', async () => {
    const server = makeInMemorySyncServer({ seed: 5 })
    const committed = new Set<unknown>()
    let replayedWithSameArgs = 0
    const tracking = makeSchema({
      events,
      state: State.SQLite.makeState({
        tables,
        materializers: {
          ...materializers,
          'v1.TodoRenamed': (args: { id: string; text: string }) => {
            if (committed.has(args)) replayedWithSameArgs++
            return tables.todos.update({ text: args.text }).where({ id: args.id })
          },
        },
      }),
    })
    const backendA = server.backend({ name: 'A' })
    const client = (backend: SyncBackend) =>
      createStorePromise({ schema: tracking, adapter: makeInMemoryAdapter(), storeId: 'shared', sync: { backend } })
    const a = await client(backendA)
    const b = await client(server.backend({ name: 'B' }))
    b.commit(events.todoCreated({ id: 't1', text: 'one' }))
    await server.settled([a, b])
    backendA.setOnline(false)
    const renames = [events.todoRenamed({ id: 't1', text: 'A1' }), events.todoRenamed({ id: 't1', text: 'A2' })]
    a.commit(...renames)
    for (const r of renames) committed.add(r.args)
    b.commit(events.todoCompleted({ id: 't1' }))
    await until(() => server.head('shared') === 2)
    backendA.setOnline(true)
    await server.settled([a, b])
    expect(replayedWithSameArgs).toBe(2) // A's two renames, replayed after B's event by A's session
    expect(a.query(todos)).toEqual([{ id: 't1', text: 'A2', completed: true }])
    expect(stateOf(a)).toBe(stateOf(b))
    await a.shutdown()
    await b.shutdown()
  })

  it('reloads from the leader, losing nothing, when its recorded undo no longer fits its state', async () => {
    const server = makeInMemorySyncServer({ seed: 12 })
    const b = await makeClient(server, 'B')
    let during: (() => void) | undefined
    const a = await makeClient(server, 'A')
    const errors: unknown[] = []
    a.backend.setOnline(false)
    a.store.commit(events.todoCreated({ id: 'a1', text: 'mine' }))
    await a.store.commit(events.noteAdded({ id: 'n1', body: 'kept' })).persisted
    // state changed behind the store's back (what a materializer that is not deterministic does):
    // undoing A's insert no longer fits the row it finds
    ;(a.store as unknown as { db: { run(sql: string): number } }).db.run("UPDATE todos SET text = 'tampered' WHERE id = 'a1'")
    b.store.commit(events.todoCreated({ id: 'b1', text: 'theirs' }))
    await until(() => server.head('shared') === 1)
    // a commit made while the session reloads must survive the reload
    const report = (a.store as unknown as { reportError: (e: unknown) => void }).reportError
    ;(a.store as unknown as { reportError: (e: unknown) => void }).reportError = (e) => {
      errors.push(e)
      report(e)
      if (e instanceof CairnError && e.code === 'SessionResync')
        during = () => a.store.commit(events.todoCreated({ id: 'a2', text: 'during' }))
      during?.()
      during = undefined
    }
    // once visible, a commit never disappears from the session, not even for a moment of the reload
    const seen: string[][] = []
    a.store.subscribe(queryDb(tables.todos.orderBy('id')), (rows) => seen.push(rows.map((t) => t.id)))
    a.backend.setOnline(true)
    await server.settled([a.store, b.store])
    expect(errors.map((e) => (e as CairnError).code)).toContain('SessionResync')
    const firstWithA2 = seen.findIndex((ids) => ids.includes('a2'))
    expect(firstWithA2).toBeGreaterThan(0)
    expect(seen.slice(firstWithA2).every((ids) => ids.includes('a2') && ids.includes('a1'))).toBe(true)
    expect(a.store.syncStatus.pending).toBe(0)
    expect(stateOf(a.store)).toBe(stateOf(b.store))
    expect(a.store.query(queryDb(tables.todos.orderBy('id'))).map((t) => [t.id, t.text])).toEqual([
      ['a1', 'mine'],
      ['a2', 'during'],
      ['b1', 'theirs'],
    ])
    expect(a.store.query(queryDb(tables.notes))).toEqual([{ id: 'n1', body: 'kept' }])
    expect(await syncedLog(a.store)).toEqual(await syncedLog(b.store))
    await a.store.shutdown()
    await b.store.shutdown()
  })

  it('without sync, a session overtaken by another session of the same leader reloads, with nothing lost', async () => {
    // Two sessions on one leader (as tabs will share one): both commit in the same task; the
    // leader orders A's first, so B's session, which records no undo without sync, reloads.
    const db = await SqliteDb.open()
    const leader = Leader.open(db, schema, {
      clientId: 'c1',
      onProgress: undefined,
      warn: () => {},
      reportError: (e) => {
        throw e
      },
    })
    let appends = Promise.resolve()
    const shared: Adapter = {
      name: 'shared-leader',
      openLeader: async () => ({
        clientId: leader.clientId,
        boot: async () => leader.snapshot(),
        // appends reach the leader one after another, later than the commits (as across tabs)
        append: (events) => (appends = appends.then(() => new Promise((r) => setTimeout(r, 1)))).then(() => leader.append(events)),
        subscribe: (listener) => leader.subscribe(listener),
        readLog: async () => leader.logEntries(),
        close: async () => {},
      }),
    }
    const errors: unknown[] = []
    const open = () => createStorePromise({ schema, adapter: shared, storeId: 's', onError: (e) => errors.push(e) })
    const a = await open()
    const b = await open()
    a.commit(events.todoCreated({ id: 'a1', text: 'from A' }))
    b.commit(events.todoCreated({ id: 'b1', text: 'from B' }))
    b.commit(events.draftChanged({ text: 'B draft' }))
    await until(
      () => a.syncStatus.pending === 0 && b.syncStatus.pending === 0 && a.query(todos).length === 2 && b.query(todos).length === 2,
    )
    expect(stateOf(a)).toBe(stateOf(b))
    expect(b.query(todos).map((t) => t.id)).toEqual(['a1', 'b1'])
    expect(b.query(queryDb(tables.drafts))).toEqual([{ id: 'current', text: 'B draft' }])
    expect(errors).toEqual([]) // an expected reload, not an error
    await a.shutdown()
    await b.shutdown()
  })

  it("converges when a lost ack leaves our oldest event heading a page of others' events, with more of ours pending", async () => {
    const server = makeInMemorySyncServer({ seed: 15, limits: { pullPageSize: 2 } })
    const a = await makeClient(server, 'A')
    const b = await makeClient(server, 'B')
    await server.settled([a.store, b.store])
    server.setFaults({ disconnectAfterStored: 1 }) // the server stores a1, the ack never comes
    a.store.commit(events.todoCreated({ id: 'a1', text: '' }))
    await until(() => server.head('shared') === 1)
    a.backend.setOnline(false)
    server.setFaults({})
    a.store.commit(events.todoCreated({ id: 'a2', text: '' }))
    a.store.commit(events.todoCreated({ id: 'a3', text: '' }))
    b.store.commit(events.todoCreated({ id: 'b1', text: '' }), events.todoCreated({ id: 'b2', text: '' }))
    await server.settled([b.store])
    // A pulls from e0: the page [a1, b1], with a2 and a3 pending behind it
    a.backend.setOnline(true)
    await server.settled([a.store, b.store])
    expect(server.events('shared').map((e) => (e.args as { id: string }).id)).toEqual(['a1', 'b1', 'b2', 'a2', 'a3'])
    expect(await syncedLog(a.store)).toEqual(await syncedLog(b.store))
    expect(stateOf(a.store)).toBe(stateOf(b.store))
    expect(a.store.syncStatus.error).toBeNull()
    await a.store.shutdown()
    await b.store.shutdown()
  })

  it('re-runs only queries on the tables the rebase touched, once', async () => {
    const server = makeInMemorySyncServer({ seed: 10 })
    const a = await makeClient(server, 'A')
    const b = await makeClient(server, 'B')
    const notes = queryDb(tables.notes.orderBy('id'), { label: 'notes' })
    const todoCalls: number[] = []
    const noteCalls: number[] = []
    a.store.subscribe(todos, (rows) => todoCalls.push(rows.length))
    a.store.subscribe(notes, (rows) => noteCalls.push(rows.length))
    a.backend.setOnline(false)
    a.store.commit(events.todoCreated({ id: 'a1', text: '' }))
    b.store.commit(events.todoCreated({ id: 'b1', text: '' }))
    await until(() => server.head('shared') === 1)
    a.backend.setOnline(true)
    await server.settled([a.store, b.store])
    expect(todoCalls).toEqual([0, 1, 2]) // initial, A's commit, the rebase (one refresh)
    expect(noteCalls).toEqual([0]) // notes were never touched
    await a.store.shutdown()
    await b.store.shutdown()
  })
})

describe('bad input from the backend', () => {
  it.each([
    ['skips numbers', (e: ServerEvent) => ({ ...e, seq: e.seq + 5 })],
    ['repeats a number out of order', (e: ServerEvent) => ({ ...e, seq: e.seq + 1 })],
    ['is malformed', (e: ServerEvent) => ({ ...e, seq: 'one' }) as unknown as ServerEvent],
    ['is not even an object', () => null as unknown as ServerEvent],
  ])('ignores a page that %s, pulls again, and loses nothing', async (_, sabotage) => {
    const server = makeInMemorySyncServer({ seed: 11 })
    const real = server.backend()
    let broken = false
    const backend: SyncBackend = {
      name: 'sabotaged',
      connect: (params, handlers) =>
        real.connect(params, {
          ...handlers,
          onPage: (page) => {
            if (!broken && page.events.length > 0) {
              broken = true
              handlers.onPage({ ...page, events: page.events.map(sabotage) })
              return
            }
            handlers.onPage(page)
          },
        }),
    }
    const b = await makeClient(server, 'B')
    b.store.commit(events.todoCreated({ id: 'x', text: '' }), events.todoCreated({ id: 'y', text: '' }))
    await server.settled([b.store])
    const a = await makeClient(server, 'A', { backend: backend as never })
    a.store.commit(events.noteAdded({ id: 'mine', body: '' }))
    await server.settled([a.store, b.store])
    expect(stateOf(a.store)).toBe(stateOf(b.store))
    expect(await syncedLog(a.store)).toEqual(await syncedLog(b.store))
    expect(a.errors.some((e) => e instanceof SyncError && /pulling again/.test(e.message))).toBe(true)
    await a.store.shutdown()
    await b.store.shutdown()
  })

  it('backs off, says why in syncStatus and does not hammer the server when no pulled page applies', async () => {
    const server = makeInMemorySyncServer({ seed: 14 })
    const real = server.backend()
    let welcomes = 0
    // a server that lost an event: every page misses its first one, so no page after it applies
    const backend: SyncBackend = {
      name: 'losing events',
      connect: (params, handlers) =>
        real.connect(params, {
          ...handlers,
          onWelcome: (welcome) => {
            welcomes++
            handlers.onWelcome(welcome)
          },
          onPage: (page) => handlers.onPage({ ...page, events: page.events.slice(1) }),
        }),
    }
    const b = await makeClient(server, 'B')
    b.store.commit(events.todoCreated({ id: 'x', text: '' }), events.todoCreated({ id: 'y', text: '' }))
    await server.settled([b.store])
    const a = await makeClient(server, 'A', { backend: backend as never })
    await until(() => a.store.syncStatus.error !== null)
    expect(a.store.syncStatus.error).toMatchObject({ code: 'Protocol' })
    expect(a.store.syncStatus.error?.message).toMatch(/has number 2 where 1 was expected/)
    const from = welcomes
    for (let i = 0; i < 600; i++) await new Promise((resolve) => setTimeout(resolve, 0))
    // reconnecting at once would take ~200 connections in 600 ticks; a growing backoff, a handful
    expect(welcomes - from).toBeLessThan(15)
    expect(a.store.syncStatus.error).toMatchObject({ code: 'Protocol' })
    await a.store.shutdown()
    await b.store.shutdown()
  })

  it('keeps working offline when the backend fails to start, and says why', async () => {
    const backend: SyncBackend = {
      name: 'broken',
      connect: () => {
        throw new Error('no network stack')
      },
    }
    const errors: unknown[] = []
    const store = await createStorePromise({
      schema,
      adapter: makeInMemoryAdapter(),
      storeId: 's',
      onError: (e) => errors.push(e),
      sync: { backend },
    })
    store.commit(events.todoCreated({ id: 'a', text: '' }))
    expect(store.query(todos).map((t) => t.id)).toEqual(['a'])
    expect(store.syncStatus).toMatchObject({ pending: 1, connected: false, error: { code: 'Protocol' } })
    expect(store.syncStatus.error?.message).toMatch(/failed to start: no network stack/)
    await store.shutdown()
  })

  it('keeps events pending and reports in syncStatus when the server refuses a push as invalid', async () => {
    const server = makeInMemorySyncServer({
      seed: 12,
      authorizePush: (pushed) => pushed.every((e) => (e.args as { id: string }).id !== 'big') || { code: 'Invalid', index: 0 },
    })
    const a = await makeClient(server, 'A')
    await until(() => a.store.syncStatus.connected)
    a.store.commit(events.todoCreated({ id: 'big', text: 'x'.repeat(100) }))
    await until(() => a.store.syncStatus.error !== null)
    expect(a.store.syncStatus).toMatchObject({ pending: 1, error: { code: 'Invalid' } })
    expect(a.store.query(todos).map((t) => t.id)).toEqual(['big']) // nothing lost
    a.store.commit(events.todoCreated({ id: 'small', text: '' })) // the store keeps working
    expect(a.store.syncStatus.pending).toBe(2)
    await a.store.shutdown()
  })

  it('treats a backend that never answers a push as a dead connection and retries', async () => {
    const server = makeInMemorySyncServer({ seed: 13 })
    const real = server.backend()
    let hang = true
    const backend: SyncBackend = {
      name: 'hanging',
      connect: (params, handlers) => {
        const connection = real.connect(params, handlers)
        return {
          get connected() {
            return connection.connected
          },
          push: (events) => (hang ? ((hang = false), new Promise(() => {})) : connection.push(events)),
          reconnect: () => connection.reconnect(),
          close: () => connection.close(),
        }
      },
    }
    const a = await createStorePromise({
      schema,
      adapter: makeInMemoryAdapter(),
      storeId: 'shared',
      onError: () => {},
      sync: { backend, pushTimeoutMs: 50 },
    })
    await until(() => a.syncStatus.connected)
    await a.commit(events.todoCreated({ id: 'a', text: '' })).confirmed
    expect(server.head('shared')).toBe(1)
    await a.shutdown()
  })
})

describe('boundaries', () => {
  // around the push size (100) and the pull page size (400)
  it.each([1, 99, 100, 101, 399, 400, 401, 1_000, 10_000])(
    'confirms all of %i pending events of an offline client after another client confirmed one',
    async (k) => {
      const server = makeInMemorySyncServer({ seed: k })
      const a = await makeClient(server, 'A')
      const b = await makeClient(server, 'B')
      a.backend.setOnline(false)
      let last: Promise<void> = Promise.resolve()
      for (let i = 0; i < k; i += 100) {
        const chunk = Array.from({ length: Math.min(100, k - i) }, (_, j) => events.noteAdded({ id: `a${i + j}`, body: '' }))
        last = a.store.commit(...chunk).confirmed
      }
      expect(a.store.syncStatus.pending).toBe(k)
      await b.store.commit(events.todoCreated({ id: 'b', text: '' })).confirmed
      a.backend.setOnline(true)
      await last
      await server.settled([a.store, b.store], 100_000)
      expect(server.head('shared')).toBe(k + 1)
      expect(server.events('shared')[0]!.clientId).toBe(b.store.clientId)
      expect(a.store.syncStatus).toMatchObject({ pending: 0, localHead: `e${k + 1}` })
      expect(await syncedLog(a.store)).toEqual(await syncedLog(b.store))
      expect(stateOf(a.store)).toBe(stateOf(b.store))
      await a.store.shutdown()
      await b.store.shutdown()
    },
    120_000,
  )
})
