// What every platform adapter's storage does, whatever it keeps the leader in: one suite, run
// against the in-memory adapter (storage-memory.test.ts) and the Node adapter
// (node/test/storage-conformance.test.ts).
import { CairnError, createStorePromise, makeInMemoryAdapter, queryDb, type Adapter, type BootStatus, type SyncBackend } from '@cairn/core'
import { makeInMemorySyncServer } from '@cairn/core/testing'
import { describe, expect, it } from 'vitest'
import { events, schema, schemaV2 } from '../node/test/fixtures/schema.ts'

export interface StorageUnderTest {
  /**
   * An adapter on this test's storage; every call reaches the same stored data (the same
   * in-memory adapter, or a new Node adapter on the same directory: a restart).
   */
  readonly reopen: () => Adapter
}

const todos = queryDb({ query: 'SELECT id, text, completed FROM todos ORDER BY id' })

/** Runs the storage conformance suite; `fresh` gives storage that holds nothing yet. */
export function storageConformance(name: string, fresh: () => StorageUnderTest): void {
  describe(`storage conformance: ${name}`, () => {
    it('boots a reopened store with its log and state, its client id and without replaying the log', async () => {
      const storage = fresh()
      const first = await createStorePromise({ schema, storeId: 's', adapter: storage.reopen() })
      first.commit(events.todoCreated({ id: 'a', text: 'Buy milk' }))
      first.commit(events.todoCreated({ id: 'b', text: 'Walk' }), events.todoCompleted({ id: 'b' }))
      await first.commit(events.draftChanged({ text: 'half a thought' })).persisted
      const clientId = first.clientId
      await first.shutdown()

      const stages: BootStatus[] = []
      const again = await createStorePromise({ schema, storeId: 's', adapter: storage.reopen(), onBootStatus: (s) => stages.push(s) })
      expect(again.clientId).toBe(clientId)
      expect(again.query(todos)).toEqual([
        { id: 'a', text: 'Buy milk', completed: 0 },
        { id: 'b', text: 'Walk', completed: 1 },
      ])
      expect(again.query(queryDb({ query: 'SELECT text FROM drafts' }))).toEqual([{ text: 'half a thought' }])
      expect((await again.readEventlog()).map((e) => [e.name, e.status])).toEqual([
        ['v1.TodoCreated', 'confirmed'],
        ['v1.TodoCreated', 'confirmed'],
        ['v1.TodoCompleted', 'confirmed'],
        ['DraftChanged', 'confirmed'],
      ])
      // the state came from storage: no rehydrating stage
      expect(stages.map((s) => s.stage)).toEqual(['loading', 'done'])
      await again.shutdown()
    })

    it('resolves persisted and confirmed for each commit without a sync backend', async () => {
      const storage = fresh()
      const store = await createStorePromise({ schema, storeId: 's', adapter: storage.reopen() })
      const handles = Array.from({ length: 20 }, (_, i) => store.commit(events.todoCreated({ id: `t${i}`, text: `${i}` })))
      await Promise.all(handles.flatMap((h) => [h.persisted, h.confirmed]))
      await store.shutdown()
      const again = await createStorePromise({ schema, storeId: 's', adapter: storage.reopen() })
      expect(again.query(todos)).toHaveLength(20)
      await again.shutdown()
    })

    it('rebuilds the state from the log when the schema changed, reporting the same stages with progress', async () => {
      const storage = fresh()
      const first = await createStorePromise({ schema, storeId: 's', adapter: storage.reopen() })
      for (let i = 0; i < 50; i++) first.commit(events.todoCreated({ id: `t${String(i).padStart(2, '0')}`, text: `${i}` }))
      await first.commit(events.todoCompleted({ id: 't07' })).persisted
      await first.shutdown()

      const stages: BootStatus[] = []
      const progress: unknown[] = []
      const upgraded = await createStorePromise({
        schema: schemaV2,
        storeId: 's',
        adapter: storage.reopen(),
        onBootStatus: (s) => stages.push(s),
        onBootProgress: (p) => progress.push(p),
      })
      expect(stages[0]).toEqual({ stage: 'loading' })
      expect(stages.at(-1)).toEqual({ stage: 'done' })
      const rehydrating = stages.filter((s) => s.stage === 'rehydrating')
      expect(rehydrating[0]!.progress).toEqual({ done: 0, total: 51 })
      expect(rehydrating.at(-1)!.progress).toEqual({ done: 51, total: 51 })
      // the deprecated callback still hears about it
      expect(progress.at(-1)).toEqual({ phase: 'rebuilding', done: 51, total: 51 })
      expect(upgraded.query(todos)).toHaveLength(50)
      expect(upgraded.query(queryDb({ query: 'SELECT id FROM todos WHERE completed = 1' }))).toEqual([{ id: 't07' }])
      await upgraded.shutdown()

      // the rebuilt state is what is stored now: no second rebuild
      const stages2: BootStatus[] = []
      const again = await createStorePromise({
        schema: schemaV2,
        storeId: 's',
        adapter: storage.reopen(),
        onBootStatus: (s) => stages2.push(s),
      })
      expect(stages2.map((s) => s.stage)).toEqual(['loading', 'done'])
      await again.shutdown()
    })

    it('refuses to open a store that is open already', async () => {
      const storage = fresh()
      const adapter = storage.reopen()
      const store = await createStorePromise({ schema, storeId: 's', adapter })
      await expect(createStorePromise({ schema, storeId: 's', adapter })).rejects.toSatisfy(
        (e) => e instanceof CairnError && e.code === 'StoreAlreadyOpen',
      )
      // another store id is another store
      const other = await createStorePromise({ schema, storeId: 'other', adapter })
      await other.shutdown()
      await store.shutdown()
      const reopened = await createStorePromise({ schema, storeId: 's', adapter })
      await reopened.shutdown()
    })

    it('keeps pending events across a restart and pushes them on reconnect, resuming from the stored cursor', async () => {
      const storage = fresh()
      const server = makeInMemorySyncServer({ seed: 3 })
      const other = await createStorePromise({
        schema,
        storeId: 'synced',
        adapter: makeInMemoryAdapter(),
        sync: { backend: server.backend({ name: 'peer' }) },
      })
      other.commit(events.todoCreated({ id: 'from-peer', text: 'hi' }))
      await server.settled([other])

      const backend = server.backend({ name: 'me' })
      const first = await createStorePromise({ schema, storeId: 'synced', adapter: storage.reopen(), sync: { backend } })
      await server.settled([first, other])
      expect(first.query(todos)).toEqual([{ id: 'from-peer', text: 'hi', completed: 0 }])
      backend.setOnline(false)
      await first.commit(events.todoCreated({ id: 'offline', text: 'written offline' })).persisted
      expect(first.syncStatus.pending).toBe(1)
      await first.shutdown()
      expect(server.head('synced')).toBe(1)

      const backend2 = server.backend({ name: 'me again' })
      backend2.setOnline(false)
      // the cursor the client resumes pulling from
      const cursors: number[] = []
      const watched: SyncBackend = {
        name: backend2.name,
        connect: (params, handlers) => backend2.connect({ ...params, cursor: () => cursors[cursors.push(params.cursor()) - 1]! }, handlers),
      }
      const again = await createStorePromise({ schema, storeId: 'synced', adapter: storage.reopen(), sync: { backend: watched } })
      // offline: the pending event and the cursor came from storage
      expect(again.syncStatus.pending).toBe(1)
      expect((await again.readEventlog()).map((e) => [JSON.parse(e.json).id, e.status])).toEqual([
        ['from-peer', 'confirmed'],
        ['offline', 'pending'],
      ])
      const pushesBefore = server.stats.pushes
      backend2.setOnline(true)
      await server.settled([again, other])
      expect(server.stats.pushes).toBeGreaterThan(pushesBefore)
      expect(cursors[0]).toBe(1) // not 0: the peer's event is not pulled again
      expect(server.events('synced').map((e) => (e.args as { id: string }).id)).toEqual(['from-peer', 'offline'])
      expect(again.syncStatus.pending).toBe(0)
      expect(other.query(todos).map((r) => r.id)).toEqual(['from-peer', 'offline'])
      await again.shutdown()
      await other.shutdown()
    })

    it("clears the local data on onBackendIdMismatch: 'reset' (a wiped server), so the store starts over from the server", async () => {
      const storage = fresh()
      const server = makeInMemorySyncServer({ seed: 4 })
      const backend = server.backend({ name: 'me' })
      const store = await createStorePromise({
        schema,
        storeId: 'wiped',
        adapter: storage.reopen(),
        onError: () => {},
        sync: { backend, onBackendIdMismatch: 'reset' },
      })
      store.commit(events.todoCreated({ id: 'synced', text: 'on the old server' }))
      await server.settled([store])
      backend.setOnline(false)
      // written offline, never pushed: 'reset' drops it too (the policy's documented cost)
      await store.commit(events.todoCreated({ id: 'pending', text: 'offline' })).persisted
      await store.commit(events.draftChanged({ text: 'a client-only draft' })).persisted
      const clientId = store.clientId
      server.wipe('wiped')
      backend.setOnline(true)
      for (let i = 0; i < 5_000 && !store.isShutdown; i++) await new Promise((resolve) => setTimeout(resolve, 0))
      expect(store.shutdownCause).toMatch(/was cleared \(onBackendIdMismatch: 'reset'\)/)

      // the next store on the same storage starts empty: no rows, no log, a new client id
      const fresh2 = server.backend({ name: 'me again' })
      fresh2.setOnline(false)
      const again = await createStorePromise({ schema, storeId: 'wiped', adapter: storage.reopen(), sync: { backend: fresh2 } })
      expect(again.query(todos)).toEqual([])
      expect(again.query(queryDb({ query: 'SELECT text FROM drafts' }))).toEqual([])
      expect(await again.readEventlog()).toEqual([])
      expect(again.clientId).not.toBe(clientId)
      // and syncs with the new server from scratch
      fresh2.setOnline(true)
      again.commit(events.todoCreated({ id: 'new', text: 'on the new server' }))
      await server.settled([again])
      expect(server.events('wiped').map((e) => (e.args as { id: string }).id)).toEqual(['new'])
      await again.shutdown()
    })
  })
}
