// Schema evolution on every platform adapter's storage: a release that changes only a
// materializer rebuilds at boot, store.rematerialize() rebuilds on demand keeping the log and the
// pending events, and a client upgraded from an older release ends with the rows of a client that
// knew the newer events all along. Run against the in-memory adapter (storage-memory.test.ts)
// and the Node adapter (node/test/storage-conformance.test.ts), with reopen = restart.
import { createStorePromise, makeInMemoryAdapter, queryDb, type BootStatus, type Schema } from '@cairn/core'
import { makeInMemorySyncServer } from '@cairn/core/testing'
import { describe, expect, it } from 'vitest'
import { events, release1, release2, release3, syncedRows } from '../../core/test/evolution-fixtures.ts'
import type { StorageUnderTest } from './storage-conformance.ts'

const todos = queryDb({ query: 'SELECT id, text, completed FROM todos ORDER BY id' })

/** Runs the schema-evolution suite; `fresh` gives storage that holds nothing yet. */
export function evolutionConformance(name: string, fresh: () => StorageUnderTest): void {
  describe(`schema evolution conformance: ${name}`, () => {
    const open = async (storage: StorageUnderTest, schema: Schema, sync?: Parameters<typeof createStorePromise>[0]['sync']) => {
      const stages: BootStatus[] = []
      const store = await createStorePromise({ schema, storeId: 's', adapter: storage.reopen(), onBootStatus: (s) => stages.push(s), sync })
      return { store, stages }
    }

    it('rebuilds at boot when only a materializer changed, and keeps the rebuilt state', async () => {
      const storage = fresh()
      const v2 = await open(storage, release2)
      await v2.store.commit(events.todoCreated({ id: 'a', text: ' spaced ' }), events.draftChanged({ text: 'mine' })).persisted
      await v2.store.shutdown()
      const v3 = await open(storage, release3)
      expect(v3.stages.filter((s) => s.stage === 'rehydrating').at(-1)).toEqual({ stage: 'rehydrating', progress: { done: 2, total: 2 } })
      expect(v3.store.query(todos)).toEqual([{ id: 'a', text: 'spaced', completed: 0 }])
      await v3.store.shutdown()
      const again = await open(storage, release3)
      expect(again.stages.map((s) => s.stage)).toEqual(['loading', 'done'])
      expect(again.store.query(todos)).toEqual([{ id: 'a', text: 'spaced', completed: 0 }])
      expect(again.store.query(queryDb({ query: 'SELECT text FROM drafts' }))).toEqual([{ text: 'mine' }])
      await again.store.shutdown()
    })

    it('rematerialize rebuilds on demand; log and pending events survive it and a restart', async () => {
      const storage = fresh()
      const server = makeInMemorySyncServer({ seed: 5 })
      const backend = server.backend()
      const first = await open(storage, release2, { backend })
      first.store.commit(events.todoCreated({ id: 'a', text: 'synced' }))
      await server.settled([first.store])
      backend.setOnline(false)
      await first.store.commit(events.todoCreated({ id: 'b', text: 'offline' })).persisted
      const log = await first.store.readEventlog()
      first.stages.length = 0
      await first.store.rematerialize()
      expect(first.stages.map((s) => s.stage)).toEqual(['rehydrating', 'rehydrating', 'done'])
      expect(first.stages[1]).toEqual({ stage: 'rehydrating', progress: { done: 1, total: 1 } })
      expect(await first.store.readEventlog()).toEqual(log)
      expect(first.store.query(todos).map((t) => t.id)).toEqual(['a', 'b'])
      expect(first.store.syncStatus.pending).toBe(1)
      // commits after it reach the leader as before
      await first.store.commit(events.todoCreated({ id: 'c', text: 'after' })).persisted
      expect(first.store.syncStatus.pending).toBe(2)
      await first.store.shutdown()

      const backend2 = server.backend()
      const again = await open(storage, release2, { backend: backend2 })
      expect(again.stages.map((s) => s.stage)).toEqual(['loading', 'done'])
      expect(again.store.query(todos).map((t) => t.id)).toEqual(['a', 'b', 'c'])
      await server.settled([again.store])
      expect(again.store.syncStatus.pending).toBe(0)
      expect(server.head('s')).toBe(3)
      await again.store.shutdown()
    })

    it('an upgraded client ends with the rows of a client that knew the newer event all along', async () => {
      const storage = fresh()
      const server = makeInMemorySyncServer({ seed: 7 })
      const old = await open(storage, release1, { backend: server.backend() })
      const peer = await createStorePromise({
        schema: release2,
        storeId: 's',
        adapter: makeInMemoryAdapter(),
        sync: { backend: server.backend() },
      })
      old.store.commit(events.todoCreated({ id: 'a', text: 'one' }), events.todoCreated({ id: 'b', text: 'two' }))
      await server.settled([old.store, peer])
      peer.commit(events.todoDeleted({ id: 'a' }))
      await server.settled([old.store, peer])
      expect(old.store.query(todos).map((t) => t.id)).toEqual(['a', 'b'])
      await old.store.shutdown()

      const upgraded = await open(storage, release2, { backend: server.backend() })
      expect(upgraded.stages.some((s) => s.stage === 'rehydrating')).toBe(true)
      expect(syncedRows(upgraded.store)).toEqual(syncedRows(peer))
      expect(upgraded.store.query(todos).map((t) => t.id)).toEqual(['b'])
      await upgraded.store.shutdown()
      await peer.shutdown()
    })
  })
}
