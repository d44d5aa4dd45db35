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
