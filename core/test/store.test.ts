import {
  CairnError,
  InvalidEventArgsError,
  makeInMemoryAdapter,
  type Adapter,
  MaterializerError,
  queryDb,
  QueryError,
  sql,
  StoreShutdownError,
  syncStatus$,
} from '@cairn/core'
import { describe, expect, it, vi } from 'vitest'
import { events, makeStore, schema, tables } from './fixtures.ts'

const allTodos = () => queryDb(tables.todos.orderBy('id'))
const rawCount = (table: string) => queryDb({ query: `SELECT count(*) AS n FROM ${table}` })

describe('createStorePromise', () => {
  it('boots an empty store with the schema tables', async () => {
    const store = await makeStore()
    expect(store.query(allTodos())).toEqual([])
    expect(store.syncStatus).toEqual({ pending: 0, localHead: 'e0', leaderHead: 'e0', serverHead: null, connected: false, error: null })
    await store.shutdown()
  })

  it('refuses an empty storeId', async () => {
    await expect(makeStore({ storeId: '' })).rejects.toThrow(/storeId/)
  })

  it('refuses a second open store on the same in-memory adapter and storeId', async () => {
    const adapter = makeInMemoryAdapter()
    const store = await makeStore({ adapter })
    await expect(makeStore({ adapter })).rejects.toThrow(/already open/)
    await store.shutdown()
    const again = await makeStore({ adapter })
    await again.shutdown()
  })

  it('refuses the second of two stores opened at once on the same in-memory adapter and storeId', async () => {
    const adapter = makeInMemoryAdapter()
    const [first, second] = await Promise.allSettled([makeStore({ adapter }), makeStore({ adapter })])
    expect(first.status).toBe('fulfilled')
    expect(second.status === 'rejected' && (second.reason as CairnError).code).toBe('StoreAlreadyOpen')
    if (first.status === 'fulfilled') await first.value.shutdown()
  })
})

describe('syncStatus$', () => {
  it('is a reactive definition: subscribers see pending go up on commit and down once confirmed', async () => {
    const store = await makeStore()
    const seen: string[] = []
    const stop = store.subscribe(syncStatus$, (s) => seen.push(`${s.pending} pending, local ${s.localHead}, leader ${s.leaderHead}`))
    const handle = store.commit(events.todoCreated({ id: 'a', text: 'x' }))
    await handle.confirmed
    expect(seen).toEqual([
      '0 pending, local e0, leader e0', // subscribed
      '1 pending, local e1, leader e0', // committed in the session
      '0 pending, local e1, leader e1', // the leader (no sync backend: the authority) confirmed it
    ])
    expect(store.query(syncStatus$)).toEqual(store.syncStatus)
    expect(() => store.setSignal(syncStatus$, store.syncStatus)).toThrow(/maintained by the store/)
    stop()
    await store.shutdown()
  })
})

describe('store.commit', () => {
  it('is synchronous: the state is visible when commit returns', async () => {
    const store = await makeStore()
    store.commit(events.todoCreated({ id: 'a', text: 'Buy milk' }))
    expect(store.query(allTodos())).toEqual([{ id: 'a', text: 'Buy milk', completed: false }])
    await store.shutdown()
  })

  it('leaves serializing the args to the leader, after the commit returned; the log holds them', async () => {
    const adapter = makeInMemoryAdapter()
    const store = await makeStore({ adapter })
    const batch = Array.from({ length: 50 }, (_, i) => events.todoCreated({ id: `t${i}`, text: `n${i}` }))
    const stringify = vi.spyOn(JSON, 'stringify')
    let during: number
    try {
      store.commit(...batch)
      during = stringify.mock.calls.length
    } finally {
      stringify.mockRestore()
    }
    expect(during).toBe(0)
    await store.shutdown()
    const leader = await adapter.openLeader({ storeId: 'test', schema })
    const log = await leader.readLog()
    expect(log.map((e) => e.json)).toEqual(batch.map((_, i) => `{"id":"t${i}","text":"n${i}"}`))
    await leader.close()
  })

  it('sends commits made in one loop in appends of at most 5,000 events, in order; a larger commit whole', async () => {
    const inner = makeInMemoryAdapter()
    const appends: number[] = []
    const adapter: Adapter = {
      name: 'counting',
      async openLeader(options) {
        const port = await inner.openLeader(options)
        const append = port.append.bind(port)
        return Object.assign(port, {
          append: (records: Parameters<typeof append>[0], hints: Parameters<typeof append>[1]) => {
            appends.push(records.length)
            return append(records, hints)
          },
        })
      },
    }
    const store = await makeStore({ adapter })
    const todo = (i: number) => events.todoCreated({ id: `t${String(i).padStart(5, '0')}`, text: `${i}` })
    const sizes = [...Array.from({ length: 12 }, () => 1_000), 6_000, ...Array.from({ length: 2_500 }, () => 1)]
    const handles = []
    let next = 0
    for (const size of sizes) {
      handles.push(store.commit(...Array.from({ length: size }, () => todo(next++))))
    }
    await Promise.all(handles.map((h) => h.persisted))
    // 5 commits of 1,000 per append, the 6,000 alone, then the singles
    expect(appends).toEqual([5_000, 5_000, 2_000, 6_000, 2_500])
    const log = await store.readEventlog()
    expect(log.map((e) => e.seqNum.global)).toEqual(Array.from({ length: next }, (_, i) => i + 1))
    expect(log.map((e) => JSON.parse(e.json).id)).toEqual(Array.from({ length: next }, (_, i) => `t${String(i).padStart(5, '0')}`))
    expect(store.query(rawCount('todos'))).toEqual([{ n: next }])
    await store.shutdown()
  })

  it('returns a handle whose persisted and confirmed promises resolve', async () => {
    const store = await makeStore()
    const handle = store.commit(events.todoCreated({ id: 'a', text: 'x' }))
    expect(handle.seqNums).toEqual([{ global: 1, client: 0, rebaseGeneration: 0 }])
    expect(store.syncStatus.pending).toBe(1)
    await handle.persisted
    await handle.confirmed
    expect(store.syncStatus).toMatchObject({ pending: 0, localHead: 'e1', leaderHead: 'e1' })
    await store.shutdown()
  })

  it('settles a commit the leader could not store: persisted and confirmed reject, pending drops, the session matches the leader', async () => {
    // the in-memory adapter's leader, with a write that fails while `failing` is set (a full disk)
    const inner = makeInMemoryAdapter()
    let failing = false
    const adapter: Adapter = {
      name: 'failing-writes',
      async openLeader(options) {
        const port = await inner.openLeader(options)
        return {
          get clientId() {
            return port.clientId
          },
          boot: () => port.boot(),
          append: (records, commits) => (failing ? Promise.reject(new Error('disk full')) : port.append(records, commits)),
          readLog: () => port.readLog(),
          subscribe: (listener) => port.subscribe(listener),
          close: () => port.close(),
        }
      },
    }
    const errors: unknown[] = []
    const store = await makeStore({ adapter, onError: (e) => errors.push(e) })
    failing = true
    const lost = store.commit(events.todoCreated({ id: 'a', text: 'lost' }), events.draftChanged({ text: 'lost draft' }))
    const outcome = (p: Promise<void>) =>
      Promise.race([
        p.then(
          () => 'resolved',
          (e: CairnError) => e.code,
        ),
        new Promise((resolve) => setTimeout(() => resolve('never settled'), 1_000)),
      ])
    expect(await outcome(lost.persisted)).toBe('LeaderWriteFailed')
    expect(await outcome(lost.confirmed)).toBe('LeaderWriteFailed')
    await vi.waitFor(() => expect(store.syncStatus.pending).toBe(0))
    expect(store.query(allTodos())).toEqual([])
    failing = false
    const kept = store.commit(events.todoCreated({ id: 'b', text: 'kept' }))
    await kept.confirmed
    expect(store.query(allTodos())).toEqual([{ id: 'b', text: 'kept', completed: false }])
    expect(store.syncStatus.pending).toBe(0)
    expect(errors.map((e) => (e as CairnError).code)).toEqual(['LeaderWriteFailed'])
    await store.shutdown()
  })

  it('commits several events in one transaction: all or nothing', async () => {
    const store = await makeStore()
    store.commit(events.todoCreated({ id: 'a', text: '1' }), events.todoCreated({ id: 'b', text: '2' }))
    expect(store.query(allTodos()).map((t) => t.id)).toEqual(['a', 'b'])
    // the second event collides with 'a': the first ('c') must not survive
    expect(() => store.commit(events.todoCreated({ id: 'c', text: '3' }), events.todoCreated({ id: 'a', text: 'dup' }))).toThrow(
      MaterializerError,
    )
    expect(store.query(allTodos()).map((t) => t.id)).toEqual(['a', 'b'])
    expect(store.syncStatus.localHead).toBe('e2')
    await store.shutdown()
  })

  it('numbers client-only events after the last global event', async () => {
    const store = await makeStore()
    const h1 = store.commit(events.todoCreated({ id: 'a', text: '1' }))
    const h2 = store.commit(events.draftChanged({ text: 'draft' }), events.draftChanged({ text: 'draft 2' }))
    const h3 = store.commit(events.todoCreated({ id: 'b', text: '2' }))
    expect([...h1.seqNums, ...h2.seqNums, ...h3.seqNums].map((s) => `e${s.global}${s.client ? '.' + s.client : ''}`)).toEqual([
      'e1',
      'e1.1',
      'e1.2',
      'e2',
    ])
    await h3.persisted
    await store.shutdown()
  })

  it('lets a materializer read state with ctx.query inside the transaction', async () => {
    const store = await makeStore()
    store.commit(
      events.todoCreated({ id: 'a', text: '1' }),
      events.todoCreated({ id: 'b', text: '2' }),
      events.counted({ id: 'after-two' }),
    )
    store.commit(events.todoCreated({ id: 'c', text: '3' }), events.counted({ id: 'after-three' }))
    expect(store.query(tables.stats.orderBy('id'))).toEqual([
      { id: 'after-three', n: 3 },
      { id: 'after-two', n: 2 },
    ])
    await store.shutdown()
  })

  it('commits nothing for an empty call', async () => {
    const store = await makeStore()
    const handle = store.commit()
    await handle.persisted
    expect(handle.seqNums).toEqual([])
    await store.shutdown()
  })
})

describe('bad input', () => {
  it('refuses invalid event args before anything is committed, naming event and field', async () => {
    const store = await makeStore()
    const attempt = () => events.todoCreated({ id: 'a', text: 42 as unknown as string })
    expect(attempt).toThrow(InvalidEventArgsError)
    expect(attempt).toThrow(/v1\.TodoCreated.*text/)
    expect(store.query(allTodos())).toEqual([])
    await store.shutdown()
  })

  it('rolls back a throwing materializer, names the event, and keeps working', async () => {
    const store = await makeStore()
    store.commit(events.todoCreated({ id: 'a', text: 'keep' }))
    let error: unknown
    try {
      store.commit(events.todoCreated({ id: 'b', text: 'lost' }), events.boom({ message: 'kaput' }))
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(MaterializerError)
    expect((error as MaterializerError).eventName).toBe('v1.Boom')
    expect((error as Error).message).toMatch(/v1\.Boom.*kaput/)
    expect(store.query(allTodos()).map((t) => t.id)).toEqual(['a'])
    expect(store.syncStatus.localHead).toBe('e1')
    store.commit(events.todoCreated({ id: 'c', text: 'after' }))
    expect(store.query(allTodos()).map((t) => t.id)).toEqual(['a', 'c'])
    await store.shutdown()
  })

  it('reports a constraint violation with table and column', async () => {
    const store = await makeStore()
    store.commit(events.todoCreated({ id: 'a', text: '1' }))
    let error: MaterializerError | undefined
    try {
      store.commit(events.todoCreated({ id: 'a', text: 'again' }))
    } catch (e) {
      error = e as MaterializerError
    }
    expect(error).toBeInstanceOf(MaterializerError)
    expect(error).toMatchObject({ eventName: 'v1.TodoCreated', table: 'todos', column: 'id' })
    expect(error!.message).toMatch(/UNIQUE/)
    await store.shutdown()
  })

  it('refuses a client-only event writing a synced table', async () => {
    const store = await makeStore()
    expect(() => store.commit(events.badClientWrite({ id: 'x' }))).toThrow(/Client-only event "BadClientWrite" wrote table "todos"/)
    expect(store.query(allTodos())).toEqual([])
    // mixed commits are checked per event and rolled back as a whole
    expect(() => store.commit(events.todoCreated({ id: 'y', text: '' }), events.badClientWrite({ id: 'x' }))).toThrow(CairnError)
    expect(store.query(allTodos())).toEqual([])
    await store.shutdown()
  })

  it('refuses something that is not an event of the schema', async () => {
    const store = await makeStore()
    const fake = { name: 'v9.Unknown', args: {}, json: '{}' }
    expect(() => store.commit(fake)).toThrow(/"v9\.Unknown": it is not in this store's schema/)
    expect(() => store.commit({} as never)).toThrow(/not an event/)
    await store.shutdown()
  })

  it('refuses a copy of an event that lost its JSON, and takes a plain { name, args, json }', async () => {
    const store = await makeStore()
    const event = events.todoCreated({ id: 'a', text: 'x' })
    expect(() => store.commit({ ...event })).toThrow(/"v1\.TodoCreated": it has no JSON/)
    expect(() => store.commit(structuredClone(event))).toThrow(/it has no JSON/)
    store.commit({ name: event.name, args: event.args, json: event.json })
    expect(store.query(allTodos())).toEqual([{ id: 'a', text: 'x', completed: false }])
    await store.shutdown()
  })

  it('gives a QueryError for bad SQL and keeps working', async () => {
    const store = await makeStore()
    const bad = queryDb({ query: 'SELECT nope FROM todos' }, { label: 'broken' })
    expect(() => store.query(bad)).toThrow(QueryError)
    expect(() => store.query(bad)).toThrow(/broken.*no such column: nope/)
    store.commit(events.todoCreated({ id: 'a', text: '' }))
    expect(store.query(allTodos())).toHaveLength(1)
    await store.shutdown()
  })

  it('throws StoreShutdownError for any use after shutdown', async () => {
    const store = await makeStore()
    await store.shutdown()
    expect(() => store.commit(events.todoCreated({ id: 'a', text: '' }))).toThrow(StoreShutdownError)
    expect(() => store.query(allTodos())).toThrow(/Cannot query: the store was shut down/)
    expect(() => store.subscribe(allTodos(), () => {})).toThrow(StoreShutdownError)
    await store.shutdown() // idempotent
  })
})

describe('store.query', () => {
  it('runs raw SQL with sql`` parameters and a result schema', async () => {
    const { z } = await import('zod')
    const store = await makeStore()
    store.commit(
      events.todoCreated({ id: 'a', text: 'milk' }),
      events.todoCreated({ id: 'b', text: 'bread' }),
      events.todoCompleted({ id: 'b' }),
    )
    const q = '%i%'
    const counts$ = queryDb({
      query: sql`SELECT completed, count(*) AS n FROM todos WHERE text LIKE ${q} GROUP BY 1 ORDER BY 1`,
      schema: z.array(z.object({ completed: z.number(), n: z.number() })),
    })
    expect(store.query(counts$)).toEqual([{ completed: 0, n: 1 }])
    const wrong$ = queryDb({ query: 'SELECT id FROM todos', schema: z.array(z.object({ id: z.number() })) }, { label: 'typed ids' })
    expect(() => store.query(wrong$)).toThrow(/typed ids.*schema/)
    await store.shutdown()
  })

  it('runs a builder query directly, without a definition', async () => {
    const store = await makeStore()
    store.commit(events.todoCreated({ id: 'a', text: 'x' }))
    expect(store.query(tables.todos.where({ id: 'a' }).first())).toEqual({ id: 'a', text: 'x', completed: false })
    expect(store.query(tables.todos.count())).toBe(1)
    store.commit(events.todoCreated({ id: 'b', text: '' }), events.todoCreated({ id: 'c', text: '' }))
    // limit and offset bound the rows counted
    expect(store.query(tables.todos.limit(2).count())).toBe(2)
    expect(store.query(tables.todos.offset(2).count())).toBe(1)
    await store.shutdown()
  })

  it('reads a client document default without writing a row', async () => {
    const store = await makeStore()
    expect(store.query(queryDb(tables.ui.get()))).toEqual({ filter: 'all', search: '' })
    expect(store.query(rawCount('ui'))).toEqual([{ n: 0 }])
    store.commit(tables.ui.set({ filter: 'done' }))
    expect(store.query(queryDb(tables.ui.get()))).toEqual({ filter: 'done', search: '' })
    await store.shutdown()
  })
})
