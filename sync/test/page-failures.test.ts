import { createStorePromise, makeInMemoryAdapter, type SyncBackend } from '@cairn/core'
import WebSocket from 'ws'
import { describe, expect, it } from 'vitest'
import { makeHttpSync, makeWsSync } from '../src/index.ts'
import { createSyncServer, memoryStorage } from '../src/server/index.ts'
import { events, schema } from './fixtures.ts'
import { sleep, waitFor } from './helpers.ts'

const backoff = { baseMs: 100, capMs: 2_000 }
const transports: [string, (server: { url: string; wsUrl: string }) => SyncBackend][] = [
  ['WebSocket', (s) => makeWsSync({ url: s.wsUrl, getAuthToken: () => 't', WebSocket, backoff })],
  ['HTTP long-poll', (s) => makeHttpSync({ url: s.url, getAuthToken: () => 't', backoff })],
]

/**
 * The transport as seen by a client of a server that lost an event: every pull page misses its
 * first event, so no page after it applies. Counts the connections the server accepted.
 */
function losingEvents(backend: SyncBackend): SyncBackend & { readonly welcomes: () => number } {
  let welcomes = 0
  return {
    name: `${backend.name} (losing events)`,
    welcomes: () => welcomes,
    connect: (params, handlers) =>
      backend.connect(params, {
        ...handlers,
        onWelcome: (welcome) => {
          welcomes++
          handlers.onWelcome(welcome)
        },
        onPage: (page) => handlers.onPage({ ...page, events: page.events.slice(1) }),
      }),
  }
}

describe.each(transports)('a store whose pulled pages cannot be applied, over %s', (_name, backendOf) => {
  it('reconnects with the jittered backoff of connection failures and says why in syncStatus', async () => {
    const server = await createSyncServer({ port: 0, storage: memoryStorage(), authorize: () => ({ principal: 'p' }) })
    const open = (backend: SyncBackend) =>
      createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: 'lost', onError: () => {}, sync: { backend } })
    const writer = await open(backendOf(server))
    const broken = losingEvents(backendOf(server))
    const reader = await open(broken)
    try {
      writer.commit(events.todoCreated({ id: 'a', text: '' }), events.todoCreated({ id: 'b', text: '' }))
      await waitFor(
        () => reader.syncStatus.error !== null,
        () => JSON.stringify(reader.syncStatus),
      )
      expect(reader.syncStatus.error).toMatchObject({ code: 'Protocol' })
      expect(reader.syncStatus.error?.message).toMatch(/has number 2 where 1 was expected/)
      const from = broken.welcomes()
      await sleep(2_000)
      // at once, this is hundreds of connections; with the backoff (100 ms doubling to 2 s), about 5
      expect(broken.welcomes() - from).toBeLessThan(12)
      expect(reader.syncStatus.error).toMatchObject({ code: 'Protocol' })
    } finally {
      await reader.shutdown()
      await writer.shutdown()
      await server.close()
    }
  }, 20_000)
})
