import { createStorePromise, makeInMemoryAdapter, type SyncBackend } from '@cairn/core'
import WebSocket from 'ws'
import { describe, expect, it } from 'vitest'
import { makeHttpSync, makeWsSync, type GetAuthToken } from '../src/index.ts'
import { createSyncServer, memoryStorage } from '../src/server/index.ts'
import { schema } from './fixtures.ts'
import { waitFor } from './helpers.ts'

const backoff = { baseMs: 20, capMs: 100 }
const transports: [string, (server: { url: string; wsUrl: string }, getAuthToken: GetAuthToken) => SyncBackend][] = [
  ['WebSocket', (s, getAuthToken) => makeWsSync({ url: s.wsUrl, getAuthToken, WebSocket, backoff })],
  ['HTTP long-poll', (s, getAuthToken) => makeHttpSync({ url: s.url, getAuthToken, backoff })],
]

describe.each(transports)('a store whose credentials fail, over %s', (_name, backendOf) => {
  async function setup(getAuthToken: GetAuthToken) {
    const server = await createSyncServer({
      port: 0,
      storage: memoryStorage(),
      authorize: ({ token }) => (token === 'good' ? { principal: 'p' } : { refuse: 'Unauthorized', message: 'wrong token' }),
    })
    const store = await createStorePromise({
      schema,
      adapter: makeInMemoryAdapter(),
      storeId: 'auth',
      onError: () => {},
      sync: { backend: backendOf(server, getAuthToken) },
    })
    return { server, store }
  }

  it('shows a refused token in syncStatus.error at once, asks for a token again at each try, and clears it once accepted', async () => {
    let token = 'bad'
    let calls = 0
    const { server, store } = await setup(() => {
      calls++
      return token
    })
    try {
      await waitFor(
        () => store.syncStatus.error !== null,
        () => JSON.stringify(store.syncStatus),
      )
      expect(store.syncStatus.error).toMatchObject({ code: 'Unauthorized' })
      await waitFor(
        () => calls >= 3,
        () => `${calls} calls`,
      )
      token = 'good'
      await waitFor(
        () => store.syncStatus.connected,
        () => JSON.stringify(store.syncStatus),
      )
      expect(store.syncStatus.error).toBeNull()
    } finally {
      await store.shutdown()
      await server.close()
    }
  })

  it('shows a getAuthToken that throws in syncStatus.error, with its message', async () => {
    const { server, store } = await setup(() => {
      throw new Error('the session expired')
    })
    try {
      await waitFor(
        () => store.syncStatus.error !== null,
        () => JSON.stringify(store.syncStatus),
      )
      expect(store.syncStatus.error?.code).toBe('Unauthorized')
      expect(store.syncStatus.error?.message).toMatch(/getAuthToken threw: the session expired/)
    } finally {
      await store.shutdown()
      await server.close()
    }
  })
})

describe('a store whose connection loop throws', () => {
  it('shows the exception in syncStatus.error (here a WebSocket class that throws) and keeps retrying', async () => {
    let tries = 0
    const Broken = class {
      constructor() {
        tries++
        throw new Error('no sockets in this sandbox')
      }
    }
    const store = await createStorePromise({
      schema,
      adapter: makeInMemoryAdapter(),
      storeId: 'broken',
      onError: () => {},
      sync: { backend: makeWsSync({ url: 'ws://127.0.0.1:9', getAuthToken: () => null, WebSocket: Broken as never, backoff }) },
    })
    try {
      await waitFor(
        () => store.syncStatus.error !== null && tries >= 2,
        () => `${tries} tries, ${JSON.stringify(store.syncStatus)}`,
      )
      expect(store.syncStatus.error).toMatchObject({ code: 'Protocol', message: expect.stringMatching(/no sockets in this sandbox/) })
    } finally {
      await store.shutdown()
    }
  })
})

describe.each(transports)('syncPayload, over %s', (_name, backendOf) => {
  it("reaches the server's authorize at every connect, as the JSON value the app set", async () => {
    const seen: unknown[] = []
    const server = await createSyncServer({
      port: 0,
      storage: memoryStorage(),
      authorize: ({ syncPayload }) => {
        seen.push(syncPayload)
        return (syncPayload as { tenant?: string } | undefined)?.tenant === 'acme' ? { principal: 'p' } : { refuse: 'Forbidden' }
      },
    })
    const payload = { tenant: 'acme', appVersion: '2.3.0', note: 'über' }
    const store = await createStorePromise({
      schema,
      adapter: makeInMemoryAdapter(),
      storeId: 'payload',
      onError: () => {},
      sync: { backend: backendOf(server, () => 'token'), syncPayload: payload },
    })
    const other = await createStorePromise({
      schema,
      adapter: makeInMemoryAdapter(),
      storeId: 'payload',
      onError: () => {},
      sync: { backend: backendOf(server, () => 'token') },
    })
    try {
      await waitFor(
        () => store.syncStatus.connected,
        () => JSON.stringify(store.syncStatus),
      )
      expect(seen).toContainEqual(payload)
      // without one, authorize gets undefined (and this one refuses it)
      await waitFor(
        () => other.syncStatus.error !== null,
        () => JSON.stringify(other.syncStatus),
      )
      expect(other.syncStatus.error?.code).toBe('Forbidden')
      expect(seen).toContain(undefined)
    } finally {
      await store.shutdown()
      await other.shutdown()
      await server.close()
    }
  })
})

describe('syncPayload', () => {
  it('is checked where it enters: JSON of at most 4 KiB', async () => {
    const server = await createSyncServer({ port: 0, storage: memoryStorage(), authorize: () => ({ principal: 'p' }) })
    try {
      const open = (syncPayload: unknown) =>
        createStorePromise({
          schema,
          adapter: makeInMemoryAdapter(),
          storeId: 'payload-check',
          sync: { backend: makeWsSync({ url: server.wsUrl, getAuthToken: () => null, WebSocket }), syncPayload },
        })
      await expect(open({ blob: 'x'.repeat(5_000) })).rejects.toThrow(/sync.syncPayload is 5\d{3} bytes of JSON, over 4096/)
      await expect(open(10n)).rejects.toMatchObject({ code: 'InvalidOption' })
    } finally {
      await server.close()
    }
  })

  it('the server refuses a malformed Cairn-Sync-Payload header as a Protocol error (400)', async () => {
    const server = await createSyncServer({ port: 0, storage: memoryStorage(), authorize: () => ({ principal: 'p' }) })
    try {
      const response = await fetch(`${server.url}/stores/s/info`, { headers: { 'Cairn-Sync-Payload': 'not json!' } })
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ code: 'Protocol', message: expect.stringMatching(/Cairn-Sync-Payload/) })
    } finally {
      await server.close()
    }
  })
})
