import { createStorePromise, makeInMemoryAdapter, queryDb, type SyncBackend, type SyncStatusError } from '@cairn/core'
import WebSocket from 'ws'
import { describe, expect, it } from 'vitest'
import { makeHttpSync, makeWsSync } from '../src/index.ts'
import { createSyncServer, memoryStorage } from '../src/server/index.ts'
import { events, schema, tables } from './fixtures.ts'
import { sleep, waitFor } from './helpers.ts'

const backoff = { baseMs: 20, capMs: 100 }
type Server = Awaited<ReturnType<typeof createSyncServer>>
const transports: [string, (server: Server) => SyncBackend][] = [
  ['WebSocket', (s) => makeWsSync({ url: s.wsUrl, getAuthToken: () => 'token', WebSocket, backoff })],
  ['HTTP long-poll', (s) => makeHttpSync({ url: s.url, getAuthToken: () => 'token', backoff })],
]
const todos = queryDb(tables.todos.orderBy('id'))
const ids = (rows: readonly { id: string }[]) => rows.map((r) => r.id)

describe.each(transports)('a refused event, over %s', (_name, backendOf) => {
  async function setup() {
    const server = await createSyncServer({
      port: 0,
      storage: memoryStorage(),
      authorize: () => ({ principal: 'p' }),
      // refuses every todo whose text is 'bad', naming it
      authorizePush: ({ events: pushed }) => {
        const index = pushed.findIndex((e) => (e.args as { text?: string }).text === 'bad')
        return index < 0 || { code: 'Invalid', index, reason: 'bad text is not allowed' }
      },
      limits: { maxEventBytes: 2_000 },
    })
    const client = async () => {
      const syncErrors: SyncStatusError[] = []
      const store = await createStorePromise({
        schema,
        adapter: makeInMemoryAdapter(),
        storeId: 'refusals',
        onError: () => {},
        onSyncError: (e) => syncErrors.push(e),
        sync: { backend: backendOf(server) },
      })
      return { store, syncErrors }
    }
    return { server, a: await client(), b: await client() }
  }

  it('is reported with its name and reason, holds the rest back, and once dropped the good ones reach the other client', async () => {
    const { server, a, b } = await setup()
    try {
      await waitFor(() => a.store.syncStatus.connected)
      a.store.commit(events.todoCreated({ id: 'good1', text: 'fine' }))
      a.store.commit(events.todoCreated({ id: 'bad', text: 'bad' }))
      a.store.commit(events.todoCreated({ id: 'good2', text: 'fine' }))
      await waitFor(
        () => a.store.syncStatus.error !== null,
        () => JSON.stringify(a.store.syncStatus),
      )
      expect(a.store.syncStatus.error).toMatchObject({
        code: 'Invalid',
        event: { name: 'v1.TodoCreated', args: { id: 'bad', text: 'bad' }, reason: 'bad text is not allowed' },
      })
      expect(a.syncErrors).toHaveLength(1)
      await waitFor(() => ids(b.store.query(todos)).includes('good1'))
      const refusals = server.stats.refused.Invalid
      await sleep(100)
      expect(ids(b.store.query(todos))).toEqual(['good1']) // good2 waits behind the refused one
      expect(server.stats.refused.Invalid).toBe(refusals) // which is not pushed again and again
      expect(a.store.syncStatus.pending).toBe(2)

      await a.store.dropRefusedEvent(a.store.syncStatus.error!.event!.eventId)
      expect(ids(a.store.query(todos))).toEqual(['good1', 'good2'])
      await waitFor(
        () => ids(b.store.query(todos)).join() === 'good1,good2' && a.store.syncStatus.pending === 0,
        () => JSON.stringify([a.store.syncStatus, b.store.query(todos)]),
      )
      expect(a.store.query(todos)).toEqual(b.store.query(todos))
      expect(a.store.syncStatus.error).toBeNull()
    } finally {
      await a.store.shutdown()
      await b.store.shutdown()
      await server.close()
    }
  })

  it("is refused at commit when larger than the server's maxEventBytes, as announced in its welcome", async () => {
    const { server, a, b } = await setup()
    try {
      await waitFor(() => a.store.syncStatus.connected)
      expect(() => a.store.commit(events.todoCreated({ id: 'big', text: 'x'.repeat(3_000) }))).toThrow(
        expect.objectContaining({ code: 'EventTooLarge', message: expect.stringMatching(/up to 2000 bytes/) }),
      )
      expect(a.store.query(todos)).toEqual([])
      a.store.commit(events.todoCreated({ id: 'fits', text: 'x'.repeat(1_000) }))
      await waitFor(() => ids(b.store.query(todos)).includes('fits'))
      expect(a.syncErrors).toEqual([])
    } finally {
      await a.store.shutdown()
      await b.store.shutdown()
      await server.close()
    }
  })
})
