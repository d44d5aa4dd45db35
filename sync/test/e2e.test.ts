import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createStorePromise, makeInMemoryAdapter, queryDb, SyncError, type Adapter, type SyncBackend } from '@cairn/core'
import WebSocket from 'ws'
import { afterAll, describe, expect, it } from 'vitest'
import { makeHttpSync, makeWsSync } from '../src/index.ts'
import { createSyncServer, sqliteStorage } from '../src/server/index.ts'
import { events, schema, tables } from './fixtures.ts'
import { waitFor } from './helpers.ts'

const dir = mkdtempSync(join(tmpdir(), 'cairn-e2e-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const todos = queryDb(tables.todos.orderBy('id'))

async function makeStore(backend: SyncBackend, adapter: Adapter = makeInMemoryAdapter()) {
  const errors: unknown[] = []
  const store = await createStorePromise({
    schema,
    adapter,
    storeId: 'shared',
    onError: (e) => errors.push(e),
    sync: { backend, pushTimeoutMs: 3_000 },
  })
  return { store, errors }
}

const transports: [string, (server: { url: string; wsUrl: string }) => SyncBackend][] = [
  ['WebSocket', (s) => makeWsSync({ url: s.wsUrl, getAuthToken: () => 'secret', WebSocket, backoff: { baseMs: 20, capMs: 200 } })],
  ['HTTP long-poll', (s) => makeHttpSync({ url: s.url, getAuthToken: () => 'secret', backoff: { baseMs: 20, capMs: 200 } })],
]

describe.each(transports)('two stores syncing through a real server over %s', (_name, backendOf) => {
  it('converge, with a concurrent edit rebased, and the server stamps the principal', async () => {
    const storage = sqliteStorage(join(dir, `${_name.replace(/\W/g, '')}.db`))
    const server = await createSyncServer({
      port: 0,
      storage,
      schema,
      authorize: ({ token }) => (token === 'secret' ? { principal: { id: 'alice' } } : { refuse: 'Unauthorized' }),
    })
    try {
      const a = await makeStore(backendOf(server))
      const b = await makeStore(backendOf(server))
      await waitFor(() => a.store.syncStatus.connected && b.store.syncStatus.connected)
      a.store.commit(events.todoCreated({ id: 't1', text: 'one' }))
      b.store.commit(events.todoCreated({ id: 't2', text: 'two' }))
      b.store.commit(events.counted({ id: 'n' }))
      a.store.commit(events.draftChanged({ text: 'never synced' }))
      const settled = () => [a, b].every((s) => s.store.syncStatus.pending === 0 && s.store.syncStatus.localHead === 'e3')
      await waitFor(settled, () => JSON.stringify([a.store.syncStatus, b.store.syncStatus]))
      expect(a.store.query(todos)).toEqual(b.store.query(todos))
      expect(a.store.query(todos).map((t) => t.id)).toEqual(['t1', 't2'])
      expect(a.store.query(queryDb(tables.stats.orderBy('id')))).toEqual(b.store.query(queryDb(tables.stats.orderBy('id'))))
      const page = await storage.page('shared', 0, 100)
      expect(page.events.map((e) => [e.seq, e.principal])).toEqual([
        [1, 'alice'],
        [2, 'alice'],
        [3, 'alice'],
      ])
      expect([...a.errors, ...b.errors]).toEqual([])
      await a.store.shutdown()
      await b.store.shutdown()
    } finally {
      await server.close()
    }
  })
})

describe('server-side validation with the schema', () => {
  it('refuses unknown events and bad args as Invalid { index, reason }; authorizePush sees the principal', async () => {
    const seen: unknown[] = []
    const server = await createSyncServer({
      port: 0,
      storage: sqliteStorage(join(dir, 'validation.db')),
      schema,
      authorize: () => ({ principal: 'bob' }),
      authorizePush: ({ principal, events }) => {
        seen.push(principal)
        return events.some((e) => (e.args as { id?: string }).id === 'locked') ? { code: 'Forbidden', message: 'locked todo' } : true
      },
    })
    const { connect, refusalOf } = await import('./helpers.ts')
    const backend = makeWsSync({ url: server.wsUrl, getAuthToken: () => 't', WebSocket })
    const r = connect(backend, { storeId: 'v' })
    try {
      await waitFor(() => r.connection.connected)
      const base = { clientId: r.clientId, sessionId: 's', producerSeq: 1, eventId: 'e1' }
      const unknown = await refusalOf(r.connection.push([{ ...base, name: 'v1.Nope', args: {} }]))
      expect([unknown.code, unknown.index, unknown.reason]).toEqual(['Invalid', 0, 'unknown event name'])
      const bad = await refusalOf(
        r.connection.push([
          { ...base, name: 'v1.TodoCreated', args: { id: 'a', text: 'ok' } },
          { ...base, producerSeq: 2, eventId: 'e2', name: 'v1.TodoCreated', args: { id: 3 } },
        ]),
      )
      expect([bad.code, bad.index]).toEqual(['Invalid', 1])
      expect(bad.reason).toMatch(/v1.TodoCreated/)
      const clientOnly = await refusalOf(r.connection.push([{ ...base, name: 'DraftChanged', args: { text: 'x' } }]))
      expect([clientOnly.code, clientOnly.index]).toEqual(['Invalid', 0])
      const forged = await refusalOf(
        r.connection.push([{ ...base, clientId: 'someone-else', name: 'v1.TodoCompleted', args: { id: 'a' } }]),
      )
      expect([forged.code, forged.index]).toEqual(['Invalid', 0])
      const locked = await refusalOf(r.connection.push([{ ...base, name: 'v1.TodoCompleted', args: { id: 'locked' } }]))
      expect(locked.code).toBe('Forbidden')
      expect((await r.connection.push([{ ...base, name: 'v1.TodoCompleted', args: { id: 'a' } }])).assigned).toEqual([1])
      expect(seen).toEqual(['bob', 'bob'])
      expect(server.stats.refused).toMatchObject({ Invalid: 4, Forbidden: 1 })
    } finally {
      await r.connection.close()
      await server.close()
    }
  })
})

describe('a server wipe between two HTTP long-polls', () => {
  /** A fetch that runs `before(url)` (e.g. a wipe) before sending the next matching request. */
  function hookedFetch() {
    let hook: { match: RegExp; run: () => Promise<void> } | undefined
    const wrapped: typeof fetch = async (input, init) => {
      const url = String(input)
      const armed = hook
      if (armed !== undefined && armed.match.test(url)) {
        hook = undefined
        await armed.run()
      }
      return fetch(input, init)
    }
    return { fetch: wrapped, arm: (match: RegExp, run: () => Promise<void>) => void (hook = { match, run }) }
  }
  const http = (server: { url: string }, f?: typeof fetch) =>
    makeHttpSync({ url: server.url, getAuthToken: () => 'secret', backoff: { baseMs: 20, capMs: 200 }, ...(f ? { fetch: f } : {}) })

  let n = 0
  const start = () =>
    createSyncServer({ port: 0, storage: sqliteStorage(join(dir, `wipe-${++n}.db`)), schema, authorize: () => ({ principal: 'p' }) })

  it("a read-only client gets its onBackendIdMismatch policy instead of the new store's events on top", async () => {
    const server = await start()
    const hook = hookedFetch()
    const writer = await makeStore(http(server))
    const errors: unknown[] = []
    const reader = await createStorePromise({
      schema,
      adapter: makeInMemoryAdapter(),
      storeId: 'shared',
      onError: (e) => errors.push(e),
      sync: { backend: http(server, hook.fetch), onBackendIdMismatch: 'ignore' },
    })
    try {
      writer.store.commit(events.todoCreated({ id: 't1', text: 'one' }))
      await waitFor(() => reader.query(todos).length === 1)
      // the reader's next long-poll (after it receives t2) reaches the server only after a wipe
      hook.arm(/\/pull\?/, () => server.wipe('shared'))
      writer.store.commit(events.todoCreated({ id: 't2', text: 'two' }))
      await waitFor(() => reader.query(todos).length === 2)
      const fresh = await makeStore(http(server))
      for (let i = 3; i <= 6; i++) fresh.store.commit(events.todoCreated({ id: `new${i}`, text: 'after the wipe' }))
      await waitFor(
        () => reader.syncStatus.error?.code === 'BackendIdMismatch',
        () => JSON.stringify([reader.syncStatus, reader.query(todos).map((t) => t.id)]),
      )
      expect(reader.query(todos).map((t) => t.id)).toEqual(['t1', 't2'])
      expect(errors.some((e) => e instanceof SyncError && e.code === 'BackendIdMismatch')).toBe(true)
      await fresh.store.shutdown()
    } finally {
      await reader.shutdown()
      await writer.store.shutdown()
      await server.close()
    }
  })

  it('a writing client gets its onBackendIdMismatch policy, not ProducerGap', async () => {
    const server = await start()
    const hook = hookedFetch()
    const writer = await makeStore(http(server, hook.fetch))
    try {
      // the long-poll answered with t1 is followed by one that reaches the server only after a wipe
      let wiped = false
      hook.arm(/\/pull\?after=1&/, async () => {
        await server.wipe('shared')
        wiped = true
      })
      writer.store.commit(events.todoCreated({ id: 't1', text: 'one' }))
      await waitFor(() => wiped)
      // then a push (on main it met the new, empty store: ProducerGap)
      if (!writer.store.isShutdown) writer.store.commit(events.todoCreated({ id: 't2', text: 'two' }))
      await waitFor(
        () => writer.store.isShutdown,
        () => JSON.stringify([writer.store.syncStatus, writer.errors.map(String)]),
      )
      expect(writer.store.shutdownCause).toMatch(/reset|backendId/)
      expect(writer.errors.filter((e) => e instanceof SyncError && e.code === 'ProducerGap')).toEqual([])
      const after = await fetch(`${server.url}/stores/shared/pull?after=0`, { headers: { Authorization: 'Bearer secret' } })
      expect(await after.json()).toMatchObject({ batch: [] })
    } finally {
      await writer.store.shutdown()
      await server.close()
    }
  })
})

describe('store ids and frame sizes end to end', () => {
  it('a store id no server can take fails clearly when the store is created (it then works offline)', async () => {
    const errors: unknown[] = []
    const store = await createStorePromise({
      schema,
      adapter: makeInMemoryAdapter(),
      storeId: '..',
      onError: (e) => errors.push(e),
      sync: { backend: makeHttpSync({ url: 'http://127.0.0.1:9', getAuthToken: () => 't' }) },
    })
    try {
      expect(String(errors[0])).toMatch(/Store id "\.\." cannot be synced/)
      expect(store.syncStatus.error?.message).toMatch(/cannot be synced/)
    } finally {
      await store.shutdown()
    }
  })

  it('a batch of non-ASCII events over maxFrameBytes in bytes (not in characters) is split, not re-sent forever', async () => {
    const server = await createSyncServer({
      port: 0,
      storage: sqliteStorage(join(dir, 'non-ascii.db')),
      schema,
      authorize: () => ({ principal: 'p' }),
      limits: { maxFrameBytes: 256 * 1024, maxEventBytes: 64 * 1024, maxHelloBytes: 8 * 1024 },
    })
    const a = await makeStore(makeWsSync({ url: server.wsUrl, getAuthToken: () => 't', WebSocket, backoff: { baseMs: 20, capMs: 200 } }))
    try {
      // 10 events of 20,000 '€': 200,000 characters (under the limit) but 600,000 bytes (over it)
      for (let i = 0; i < 10; i++) a.store.commit(events.todoCreated({ id: `t${i}`, text: '€'.repeat(20_000) }))
      await waitFor(
        () => a.store.syncStatus.pending === 0,
        () => JSON.stringify([a.store.syncStatus, server.stats]),
        10_000,
      )
      expect(server.stats.eventsAppended).toBe(10)
      expect(server.stats.connections).toBe(1)
    } finally {
      await a.store.shutdown()
      await server.close()
    }
  })

  it("the server counts an event's size in bytes", async () => {
    const server = await createSyncServer({
      port: 0,
      storage: sqliteStorage(join(dir, 'event-bytes.db')),
      authorize: () => ({ principal: 'p' }),
    })
    const { connect, refusalOf, wireEvents } = await import('./helpers.ts')
    const r = connect(makeWsSync({ url: server.wsUrl, getAuthToken: () => 't', WebSocket }), { storeId: 'b' })
    try {
      await waitFor(() => r.connection.connected)
      // 30,000 characters, 90,000 bytes: over the default maxEventBytes of 64 KiB
      const refusal = await refusalOf(r.connection.push(wireEvents(r.clientId, 1, 1, () => ({ text: '€'.repeat(30_000) }))))
      expect([refusal.code, refusal.index]).toEqual(['Invalid', 0])
      expect(refusal.reason).toMatch(/90\d{3} bytes/)
    } finally {
      await r.connection.close()
      await server.close()
    }
  })
})
