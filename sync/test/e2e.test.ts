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

  it('a read-only client gets its onBackendIdMismatch policy instead of the new store\'s events on top', async () => {
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
