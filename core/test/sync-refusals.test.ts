import { createStorePromise, makeInMemoryAdapter, queryDb, type SyncBackend, type SyncStatusError, type WireEvent } from '@cairn/core'
import { makeInMemorySyncServer, type InMemorySyncServerOptions } from '@cairn/core/testing'
import { describe, expect, it } from 'vitest'
import { events, schema, tables } from './fixtures.ts'
import { stateOf, until } from './sync-helpers.ts'

const todos = queryDb(tables.todos.orderBy('id'))
const ids = (rows: readonly { id: string }[]) => rows.map((r) => r.id)

/** Refuses every todo whose text is 'bad' as Invalid, naming its index in the push. */
const refuseBad: InMemorySyncServerOptions['authorizePush'] = (pushed: readonly WireEvent[]) => {
  const index = pushed.findIndex((e) => (e.args as { text?: string }).text === 'bad')
  return index < 0 || { code: 'Invalid', index, reason: 'bad text' }
}

async function client(server: ReturnType<typeof makeInMemorySyncServer>, options: { maxEventBytes?: number; backend?: SyncBackend } = {}) {
  const errors: unknown[] = []
  const syncErrors: SyncStatusError[] = []
  const backend = options.backend ?? server.backend()
  const store = await createStorePromise({
    schema,
    adapter: makeInMemoryAdapter(),
    storeId: 'shared',
    onError: (e) => errors.push(e),
    onSyncError: (e) => syncErrors.push(e),
    sync: { backend, pushTimeoutMs: 2_000, ...(options.maxEventBytes === undefined ? {} : { maxEventBytes: options.maxEventBytes }) },
  })
  return { store, errors, syncErrors, backend }
}

/** Lets the in-memory network run `n` ticks. */
async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setTimeout(resolve, 0))
}

describe('a refused event', () => {
  it.each([
    ['committed one by one', false],
    ['committed in one commit (one push)', true],
  ])(
    'between good ones (%s): reported with its name and reason, the queue waits, and after drop the rest converges',
    async (_, oneCommit) => {
      const server = makeInMemorySyncServer({ seed: 21, authorizePush: refuseBad })
      const a = await client(server)
      const b = await client(server)
      await until(() => a.store.syncStatus.connected)
      const commits = [
        events.todoCreated({ id: 'good1', text: 'fine' }),
        events.todoCreated({ id: 'bad', text: 'bad' }),
        events.todoCreated({ id: 'good2', text: 'fine' }),
      ]
      const handles = oneCommit ? [a.store.commit(...commits)] : commits.map((e) => a.store.commit(e))
      await until(() => a.store.syncStatus.error !== null)

      const error = a.store.syncStatus.error!
      expect(error).toMatchObject({
        code: 'Invalid',
        event: { name: 'v1.TodoCreated', args: { id: 'bad', text: 'bad' }, reason: 'bad text' },
      })
      expect(error.message).toMatch(/refused event "v1.TodoCreated".*bad text.*dropRefusedEvent/)
      expect(a.syncErrors).toEqual([error]) // told once
      // the event before it went through; the one after waits behind it, for good
      await ticks(50)
      expect(server.events('shared').map((e) => (e.args as { id: string }).id)).toEqual(['good1'])
      expect(a.store.syncStatus.pending).toBe(2)
      expect(ids(a.store.query(todos))).toEqual(['bad', 'good1', 'good2'])

      await a.store.dropRefusedEvent(error.event!.eventId)
      expect(ids(a.store.query(todos))).toEqual(['good1', 'good2']) // its effects are gone at once
      await server.settled([a.store, b.store])
      expect(server.events('shared').map((e) => (e.args as { id: string }).id)).toEqual(['good1', 'good2'])
      expect(ids(b.store.query(todos))).toEqual(['good1', 'good2'])
      expect(stateOf(a.store)).toBe(stateOf(b.store))
      expect(a.store.syncStatus.error).toBeNull()
      expect((await a.store.readEventlog()).map((e) => `${e.seqNum.global} ${e.status}`)).toEqual(['1 confirmed', '2 confirmed'])
      // the commit that held it is never confirmed as a whole; the others are
      await expect(handles[oneCommit ? 0 : 1]!.confirmed).rejects.toMatchObject({ code: 'EventDropped' })
      if (!oneCommit) await Promise.all([handles[0]!.confirmed, handles[2]!.confirmed])
      expect(a.syncErrors).toHaveLength(1)
      await a.store.shutdown()
      await b.store.shutdown()
    },
  )

  it('is singled out of a push refused as a whole (Forbidden, no index): the events around it go through', async () => {
    const server = makeInMemorySyncServer({
      seed: 22,
      authorizePush: (pushed) => !pushed.some((e) => (e.args as { text?: string }).text === 'bad'),
    })
    const a = await client(server)
    const inputs = Array.from({ length: 9 }, (_, i) => events.todoCreated({ id: `t${i}`, text: i === 6 ? 'bad' : 'ok' }))
    a.store.commit(...inputs)
    await until(() => a.store.syncStatus.error !== null)
    expect(a.store.syncStatus.error).toMatchObject({ code: 'Forbidden', event: { args: { id: 't6' } } })
    await until(() => server.head('shared') === 6)
    expect(a.store.syncStatus.pending).toBe(3)
    await a.store.dropRefusedEvent(a.store.syncStatus.error!.event!.eventId)
    await server.settled([a.store])
    expect(server.events('shared').map((e) => (e.args as { id: string }).id)).toEqual(['t0', 't1', 't2', 't3', 't4', 't5', 't7', 't8'])
    expect(ids(a.store.query(todos))).toEqual(['t0', 't1', 't2', 't3', 't4', 't5', 't7', 't8'])
    await a.store.shutdown()
  })

  it('is rolled back under events of other clients that arrived meanwhile (a rebase and a drop)', async () => {
    const server = makeInMemorySyncServer({ seed: 23, authorizePush: refuseBad })
    const a = await client(server)
    const b = await client(server)
    await until(() => a.store.syncStatus.connected && b.store.syncStatus.connected)
    a.store.commit(events.todoCreated({ id: 'x', text: 'bad' }))
    a.store.commit(events.todoCreated({ id: 'y', text: 'mine' }), events.counted({ id: 'count' }))
    await until(() => a.store.syncStatus.error !== null)
    b.store.commit(events.todoCreated({ id: 'z', text: 'theirs' }))
    await until(() => a.store.syncStatus.serverHead === 'e1' && a.store.syncStatus.leaderHead.startsWith('e4'))
    expect(ids(a.store.query(todos))).toEqual(['x', 'y', 'z'])
    await a.store.dropRefusedEvent(a.store.syncStatus.error!.event!.eventId)
    await server.settled([a.store, b.store])
    expect(stateOf(a.store)).toBe(stateOf(b.store))
    // counted after the drop: 'x' is not there, on either client
    expect(b.store.query(queryDb(tables.stats.where({ id: 'count' }).first()))).toMatchObject({ n: 2 })
    await a.store.shutdown()
    await b.store.shutdown()
  })

  it('stays stopped by default, and is pushed again at the next connection, where a server that now takes it unblocks the queue', async () => {
    let strict = true
    const server = makeInMemorySyncServer({ seed: 24, authorizePush: (pushed) => (strict ? refuseBad(pushed) : true) })
    const a = await client(server)
    a.store.commit(events.todoCreated({ id: 'x', text: 'bad' }))
    a.store.commit(events.todoCreated({ id: 'y', text: 'ok' }))
    await until(() => a.store.syncStatus.error !== null)
    await ticks(50)
    expect(server.head('shared')).toBe(0)
    strict = false
    const backend = a.backend as ReturnType<typeof server.backend>
    backend.setOnline(false)
    backend.setOnline(true)
    await server.settled([a.store])
    expect(a.store.syncStatus.error).toBeNull()
    expect(ids(a.store.query(todos))).toEqual(['x', 'y'])
    expect(a.syncErrors).toHaveLength(1)
    await a.store.shutdown()
  })

  it('cannot be dropped by a wrong id: NotRefused, nothing changes', async () => {
    const server = makeInMemorySyncServer({ seed: 25, authorizePush: refuseBad })
    const a = await client(server)
    const handle = a.store.commit(events.todoCreated({ id: 'ok', text: 'ok' }))
    await expect(a.store.dropRefusedEvent('nope')).rejects.toMatchObject({ code: 'NotRefused' })
    a.store.commit(events.todoCreated({ id: 'x', text: 'bad' }))
    await until(() => a.store.syncStatus.error !== null)
    await handle.confirmed
    await expect(a.store.dropRefusedEvent('nope')).rejects.toThrow(/the event the sync server refused is .*v1.TodoCreated/)
    expect(ids(a.store.query(todos))).toEqual(['ok', 'x'])
    await a.store.shutdown()
  })
})

describe('the event size limit at commit', () => {
  it('refuses a synced event larger than maxEventBytes (UTF-8), naming it and both sizes; nothing is applied', async () => {
    const server = makeInMemorySyncServer({ seed: 26, limits: { maxEventBytes: 1_000 } })
    const a = await client(server, { maxEventBytes: 100 })
    // 60 characters, 120 bytes of UTF-8: over the limit although `length` is not
    expect(() => a.store.commit(events.todoCreated({ id: 'big', text: 'é'.repeat(60) }))).toThrow(
      expect.objectContaining({
        code: 'EventTooLarge',
        message: expect.stringMatching(/"v1.TodoCreated": its args are 142 bytes .* up to 100 bytes/),
      }),
    )
    expect(a.store.query(todos)).toEqual([])
    expect(a.store.syncStatus.pending).toBe(0)
    // all or nothing: the small event of the same commit is not applied either
    expect(() =>
      a.store.commit(events.todoCreated({ id: 's', text: '' }), events.todoCreated({ id: 'big', text: 'x'.repeat(200) })),
    ).toThrow(/its args are 222 bytes/)
    expect(a.store.query(todos)).toEqual([])
    a.store.commit(events.todoCreated({ id: 'small', text: 'x'.repeat(50) }))
    // client-only events never go to the server: not checked
    a.store.commit(events.draftChanged({ text: 'x'.repeat(500) }))
    await server.settled([a.store])
    await a.store.shutdown()
  })

  it('takes the limit the server announces in its welcome over the option', async () => {
    const server = makeInMemorySyncServer({ seed: 27, limits: { maxEventBytes: 1_000 } })
    const a = await client(server, { maxEventBytes: 100 })
    await until(() => a.store.syncStatus.connected)
    a.store.commit(events.todoCreated({ id: 'mid', text: 'x'.repeat(500) }))
    expect(() => a.store.commit(events.todoCreated({ id: 'big', text: 'x'.repeat(1_000) }))).toThrow(/up to 1000 bytes/)
    await server.settled([a.store])
    expect(server.head('shared')).toBe(1)
    await a.store.shutdown()
  })

  it('is the server default (64 KiB) without the option, and absent without sync', async () => {
    const server = makeInMemorySyncServer({ seed: 28 })
    const backend = server.backend()
    backend.setOnline(false)
    const a = await client(server, { backend })
    expect(() => a.store.commit(events.todoCreated({ id: 'big', text: 'x'.repeat(70_000) }))).toThrow(/up to 65536 bytes/)
    await a.store.shutdown()
    const local = await createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: 'local' })
    local.commit(events.todoCreated({ id: 'big', text: 'x'.repeat(70_000) }))
    expect(ids(local.query(todos))).toEqual(['big'])
    await local.shutdown()
  })
})

describe('failures in the connection loop', () => {
  it('an exception in a sync handler lands in syncStatus.error and onSyncError, and clears at the next welcome', async () => {
    const server = makeInMemorySyncServer({ seed: 29 })
    const real = server.backend()
    let sabotage = true
    const backend: SyncBackend = {
      name: 'throwing',
      connect: (params, handlers) =>
        real.connect(params, {
          ...handlers,
          onWelcome: (welcome) => {
            // a malformed welcome makes the handler throw
            handlers.onWelcome(sabotage ? (null as never) : welcome)
            sabotage = false
          },
        }),
    }
    const a = await client(server, { backend })
    await until(() => a.store.syncStatus.error !== null)
    expect(a.store.syncStatus.error).toMatchObject({ code: 'SyncFailed', message: expect.stringMatching(/Sync failed in this client/) })
    expect(a.syncErrors).toHaveLength(1)
    real.setOnline(false)
    real.setOnline(true)
    await until(() => a.store.syncStatus.connected && a.store.syncStatus.error === null)
    await a.store.shutdown()
  })
})
