import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { CairnError, SyncError } from '@cairn/core'
import fc from 'fast-check'
import WebSocket from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { backoffDelay, makeHttpSync, makeWsSync } from '../src/index.ts'
import { createSyncServer, memoryStorage, type SyncServer } from '../src/server/index.ts'
import { FaultProxy, mulberry32 } from './fault-proxy.ts'
import { connect, waitFor, wireEvents, type Recorder } from './helpers.ts'

const cleanup: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})
async function server(options: Partial<Parameters<typeof createSyncServer>[0]> = {}): Promise<SyncServer> {
  const s = await createSyncServer({ port: 0, storage: memoryStorage(), authorize: () => ({ principal: 'p' }), ...options })
  cleanup.push(() => s.close())
  return s
}
function track(r: Recorder): Recorder {
  cleanup.push(() => r.connection.close())
  return r
}

describe('backoffDelay', () => {
  it('is full jitter: within [0, min(cap, base·2^attempt)), 0.5 s base and 30 s cap by default', () => {
    fc.assert(
      fc.property(fc.nat(60), fc.double({ min: 0, max: 0.999999, noNaN: true }), (attempt, r) => {
        const d = backoffDelay(attempt, {}, () => r)
        expect(d).toBeGreaterThanOrEqual(0)
        expect(d).toBeLessThan(Math.min(30_000, 500 * 2 ** attempt))
      }),
    )
    expect(backoffDelay(0, {}, () => 0.999)).toBe(499)
    expect(backoffDelay(40, {}, () => 0.999)).toBe(29_970)
  })
})

describe('transport options are checked where they enter', () => {
  it.each([
    ['makeWsSync', () => makeWsSync({ url: 'localhost:8787', getAuthToken: () => 't', WebSocket }), /"url" must start with ws: or wss:/],
    ['makeWsSync', () => makeWsSync({ url: 'ws://[bad', getAuthToken: () => 't', WebSocket }), /"url" "ws:\/\/\[bad" is not a URL/],
    ['makeWsSync', () => makeWsSync({ url: 'ws://localhost:8787', WebSocket } as never), /"getAuthToken" must be a function/],
    ['makeWsSync', () => makeWsSync({ url: 'ws://h', getAuthToken: () => 't', WebSocket, pingIntervalMs: -5 }), /"pingIntervalMs"/],
    ['makeHttpSync', () => makeHttpSync({ url: 'ws://localhost:8787', getAuthToken: () => 't' }), /"url" must start with http: or https:/],
    ['makeHttpSync', () => makeHttpSync({ url: '', getAuthToken: () => 't' }), /"url" is required/],
    ['makeHttpSync', () => makeHttpSync({ url: 'http://h', getAuthToken: 'token' } as never), /"getAuthToken" must be a function/],
    ['makeHttpSync', () => makeHttpSync(undefined as never), /pass an options object/],
  ])('%s throws a CairnError at once (case %#)', (_name, make, message) => {
    let error: unknown
    try {
      make()
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(CairnError)
    expect((error as CairnError).code).toBe('InvalidOption')
    expect((error as Error).message).toMatch(message)
  })

  it.each([
    ['WebSocket', (url: { url: string; wsUrl: string }) => makeWsSync({ url: url.wsUrl, getAuthToken: () => 't', WebSocket })],
    ['HTTP', (url: { url: string; wsUrl: string }) => makeHttpSync({ url: url.url, getAuthToken: () => 't' })],
  ])('%s: a store id the server would refuse fails at connect with a clear error; ids with dots work', async (_name, make) => {
    const s = await server()
    expect(() => connect(make(s), { storeId: '..' })).toThrow(/Store id "\.\." cannot be synced: a store id cannot be "\." or "\.\."/)
    expect(() => connect(make(s), { storeId: 'x'.repeat(257) })).toThrow(CairnError)
    for (const storeId of ['a..b', '.hidden', 'ü'.repeat(200)]) {
      const r = track(connect(make(s), { storeId }))
      await waitFor(() => r.connection.connected)
      expect((await r.connection.push(wireEvents(r.clientId, 1, 1))).assigned).toEqual([1])
      await waitFor(() => r.cursor === 1)
    }
  })
})

describe('makeWsSync', () => {
  it('needs a WebSocket class on Node 20, and says so', () => {
    const g = globalThis as { WebSocket?: unknown }
    const saved = g.WebSocket
    g.WebSocket = undefined
    try {
      expect(() => makeWsSync({ url: 'ws://127.0.0.1:1', getAuthToken: () => 't' })).toThrow(/ws/)
    } finally {
      g.WebSocket = saved
    }
  })

  it('treats a connection without pong as dead, and reconnects', async () => {
    const s = await server()
    const proxy = await new FaultProxy(s.port, {}, mulberry32(1)).start()
    cleanup.push(() => proxy.close())
    const r = track(
      connect(
        makeWsSync({
          url: `ws://127.0.0.1:${proxy.port}`,
          getAuthToken: () => 't',
          WebSocket,
          pingIntervalMs: 50,
          pongTimeoutMs: 150,
          backoff: { baseMs: 10, capMs: 20 },
        }),
      ),
    )
    await waitFor(() => r.connection.connected)
    proxy.setBlackhole(true)
    await waitFor(
      () => r.disconnects.length > 0,
      () => '',
      3_000,
    )
    expect((r.disconnects[0] as SyncError).code).toBe('Timeout')
    proxy.setBlackhole(false)
    await waitFor(
      () => r.welcomes.length >= 2 && r.connection.connected,
      () => '',
      3_000,
    )
  })

  it('falls back to long-poll when the socket cannot open', async () => {
    // an app server that serves the long-poll routes but refuses every WebSocket upgrade
    const sync = await createSyncServer({ storage: memoryStorage(), authorize: () => ({ principal: 'p' }) })
    const app = createServer((req, res) => {
      if (!sync.handleRequest(req, res)) res.writeHead(404).end()
    })
    app.on('upgrade', (_req, socket) => socket.destroy())
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve))
    cleanup.push(async () => {
      app.closeAllConnections()
      await new Promise((resolve) => app.close(resolve))
      await sync.close()
    })
    const port = (app.address() as AddressInfo).port
    const r = track(
      connect(
        makeWsSync({
          url: `ws://127.0.0.1:${port}`,
          getAuthToken: () => 't',
          WebSocket,
          fallback: true,
          backoff: { baseMs: 10, capMs: 20 },
        }),
      ),
    )
    await waitFor(
      () => r.connection.connected,
      () => JSON.stringify(r.disconnects.map(String)),
    )
    expect((await r.connection.push(wireEvents(r.clientId, 1, 2))).assigned).toEqual([1, 2])
    await waitFor(() => r.cursor === 2)
  })

  it('waits the server-given Retry-After when the server is full', async () => {
    const s = await server({ limits: { maxConnections: 1 } })
    const first = track(connect(makeWsSync({ url: s.wsUrl, getAuthToken: () => 't', WebSocket })))
    await waitFor(() => first.connection.connected)
    const second = track(connect(makeWsSync({ url: s.wsUrl, getAuthToken: () => 't', WebSocket, backoff: { baseMs: 1, capMs: 1 } })))
    await waitFor(() => second.disconnects.length > 0)
    const error = second.disconnects[0] as SyncError
    expect([error.code, error.retryAfterMs]).toEqual(['RateLimited', 1000])
    await first.connection.close()
    await waitFor(
      () => second.connection.connected,
      () => '',
      4_000,
    )
    expect(second.disconnects).toHaveLength(1) // it waited the second instead of its 1 ms backoff
  })
})

describe('makeHttpSync', () => {
  it('reconnects with a fresh token when a push is refused as Unauthorized', async () => {
    let valid = 'ok-1'
    const s = await server({ authorize: ({ token }) => (token === valid ? { principal: 'p' } : { refuse: 'Unauthorized' }) })
    let n = 0
    const r = track(connect(makeHttpSync({ url: s.url, getAuthToken: () => `ok-${++n}`, backoff: { baseMs: 10, capMs: 20 } })))
    await waitFor(() => r.connection.connected)
    valid = 'ok-2' // the token in use expires
    const error = await r.connection.push(wireEvents(r.clientId, 1, 1)).catch((e) => e)
    expect(error.code).toBe('Disconnected')
    await waitFor(() => r.welcomes.length >= 2 && r.connection.connected)
    expect((await r.connection.push(wireEvents(r.clientId, 1, 1))).assigned).toEqual([1])
  })
})
