import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSyncServer, memoryStorage, type SyncServer } from '../src/server/index.ts'
import { event, hello, rawSocket, type RawSocket } from './raw-socket.ts'
import WebSocket from 'ws'
import { makeWsSync } from '../src/index.ts'
import { FaultProxy, mulberry32 } from './fault-proxy.ts'
import { connect, waitFor, wireEvents } from './helpers.ts'

let server: SyncServer
const sockets: RawSocket[] = []
async function socket(): Promise<RawSocket> {
  const s = await rawSocket(server.wsUrl)
  sockets.push(s)
  return s
}
/** An authorized socket on store `storeId` (alice may use stores "a…", bob "b…"). */
async function authed(storeId = 'a1', token = 'alice', clientId = 'c1'): Promise<RawSocket> {
  const s = await socket()
  s.send(hello(storeId, token, clientId))
  await s.next((m) => m.type === 'welcome')
  return s
}

beforeAll(async () => {
  server = await createSyncServer({
    port: 0,
    storage: memoryStorage(),
    limits: {
      maxFrameBytes: 64 * 1024,
      maxConnections: 40,
      maxConnectionsPerAddress: 40,
      pushesPerSecond: 20,
      helloTimeoutMs: 400,
      maxProtocolErrors: 5,
    },
    authorize: ({ token, storeId }) => {
      if (token !== 'alice' && token !== 'bob') return { refuse: 'Unauthorized' }
      return storeId.startsWith(token[0]!) ? { principal: token } : { refuse: 'Forbidden' }
    },
  })
})
afterAll(async () => {
  for (const s of sockets) s.ws.terminate()
  await server.close()
})

describe('WebSocket: before welcome', () => {
  it.each([
    ['malformed JSON', '{"v":1,'],
    ['an unknown message type', { v: 1, type: 'subscribe' }],
    ['a push before hello', { v: 1, type: 'push', reqId: 1, events: [event('c1', 1)] }],
    ['a wrong protocol version', { v: 99, type: 'hello' }],
    ['a hello with wrong field types', { v: 1, type: 'hello', storeId: 7, clientId: 'c', sessionId: 's', cursor: 0 }],
    ['a hello with a huge cursor', '{"v":1,"type":"hello","storeId":"a1","clientId":"c","sessionId":"s","cursor":1e400,"token":"alice"}'],
  ])('answers %s with a Protocol error and close code 4400', async (_name, frame) => {
    const before = server.stats.refused.Protocol ?? 0
    const s = await socket()
    s.send(frame)
    expect(await s.next()).toMatchObject({ type: 'error', code: 'Protocol' })
    expect((await s.closed).code).toBe(4400)
    expect(server.stats.refused.Protocol).toBe(before + 1)
  })

  it('refuses a bad token as Unauthorized (4401) and a store the token may not access as Forbidden (4403)', async () => {
    const bad = await socket()
    bad.send(hello('a1', 'mallory'))
    expect(await bad.next()).toMatchObject({ type: 'error', code: 'Unauthorized' })
    expect((await bad.closed).code).toBe(4401)
    const other = await socket()
    other.send(hello('b1', 'alice'))
    expect(await other.next()).toMatchObject({ type: 'error', code: 'Forbidden' })
    expect((await other.closed).code).toBe(4403)
    const none = await socket()
    none.send(hello('a1', undefined))
    expect((await none.closed).code).toBe(4401)
  })

  it('closes a socket that never says hello (4408)', async () => {
    const s = await socket()
    expect((await s.closed).code).toBe(4408)
    expect(server.stats.helloTimeouts).toBeGreaterThan(0)
  })
})

describe('WebSocket: after welcome', () => {
  it('answers bad frames with typed errors, keeps the connection, closes after too many', async () => {
    const s = await authed()
    for (const frame of ['nope', { v: 1, type: 'jump' }, { v: 1, type: 'pull', after: 'x' }, '{"v":1,"type":"pull","after":1e999}']) {
      s.send(frame)
      expect(await s.next()).toMatchObject({ type: 'error', code: 'Protocol' })
    }
    expect(s.isClosed()).toBe(false)
    s.send(Buffer.from([1, 2, 3])) // binary: the fifth bad frame
    expect((await s.closed).code).toBe(4400)
  })

  it('refuses bad events as Invalid with the index, forged seq and clientId included; stores nothing', async () => {
    const s = await authed('a2')
    const cases: [object[], number][] = [
      [[event('c1', 1), event('c1', 2, { producerSeq: -1 })], 1],
      [[event('c1', 1, { seq: 1 })], 0],
      [[event('c1', 1, { clientId: 'someone-else' })], 0],
      [[event('c1', 1, { name: 42 })], 0],
      [[event('c1', 1, { args: JSON.parse('['.repeat(200) + ']'.repeat(200)) })], 0],
      [[event('c1', 1, { producerSeq: 2 ** 60 })], 0],
    ]
    // every refused push counts toward maxProtocolErrors (5 here): a second connection takes the rest
    const t = await authed('a2')
    for (const [i, [events, index]] of cases.entries()) {
      const c = i < 3 ? s : t
      c.send({ v: 1, type: 'push', reqId: i + 1, events })
      expect(await c.next((m) => m.reqId === i + 1), JSON.stringify(events).slice(0, 100)).toMatchObject({
        type: 'pushError',
        code: 'Invalid',
        index,
      })
    }
    t.send({ v: 1, type: 'push', reqId: 99, events: [event('c1', 1)] })
    expect(await t.next((m) => m.reqId === 99)).toMatchObject({ type: 'pushAck', assigned: [1] })
  })

  it('closes a connection that sends an oversized frame with 1009', async () => {
    const s = await authed('a3')
    s.send({ v: 1, type: 'push', reqId: 1, events: [event('c1', 1, { args: { text: 'x'.repeat(70 * 1024) } })] })
    expect((await s.closed).code).toBe(1009)
  })

  it('rate limits a push flood with RateLimited { retryAfterMs }, never blocking other clients', async () => {
    const flood = await authed('a4', 'alice', 'flooder')
    const honest = await authed('a4', 'alice', 'honest')
    honest.send({ v: 1, type: 'pull', after: 0, live: true })
    for (let i = 1; i <= 100; i++) flood.send({ v: 1, type: 'push', reqId: i, events: [event('flooder', i)] })
    honest.send({ v: 1, type: 'push', reqId: 1, events: [event('honest', 1)] })
    expect(await honest.next((m) => m.type === 'pushAck')).toMatchObject({ reqId: 1 })
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => flood.next((m) => m.reqId === i + 1)))
    const limited = answers.filter((m) => m.code === 'RateLimited')
    expect(limited.length).toBeGreaterThan(50)
    expect(limited[0].retryAfterMs).toBeGreaterThan(0)
    expect(answers.filter((m) => m.type === 'pushAck').length).toBeGreaterThan(10)
  })

  it('refuses a flood of connections past maxConnections with HTTP 429, and recovers', async () => {
    const opened: RawSocket[] = []
    let refused = 0
    await Promise.all(
      Array.from({ length: 60 }, async () => {
        try {
          opened.push(await socket())
        } catch (e) {
          expect(String(e)).toMatch(/429/)
          refused++
        }
      }),
    )
    expect(refused).toBeGreaterThan(0)
    expect(server.stats.connectionsRefused).toBeGreaterThanOrEqual(refused)
    for (const s of opened) s.ws.terminate()
    await waitFor(() => server.stats.openConnections < 10)
    await authed('a5')
  })

  it('keeps stores apart: nothing a client did reached a store of another principal', async () => {
    const b = await authed('b1', 'bob', 'bob1')
    b.send({ v: 1, type: 'pull', after: 0, live: true })
    expect(await b.next((m) => m.type === 'upToDate')).toMatchObject({ head: 0 })
  })
})

describe('WebSocket: a client reading too slowly', () => {
  it('is disconnected once its unsent bytes pass maxBufferedBytes, without holding up the others', async () => {
    const slowServer = await createSyncServer({
      port: 0,
      storage: memoryStorage(),
      authorize: () => ({ principal: 'p' }),
      limits: { maxBufferedBytes: 256 * 1024 },
    })
    const proxy = await new FaultProxy(slowServer.port, {}, mulberry32(3)).start()
    const slow = connect(makeWsSync({ url: `ws://127.0.0.1:${proxy.port}`, getAuthToken: () => 't', WebSocket }), { storeId: 'big' })
    const fast = connect(makeWsSync({ url: slowServer.wsUrl, getAuthToken: () => 't', WebSocket }), { storeId: 'big' })
    try {
      await waitFor(() => slow.connection.connected && fast.connection.connected)
      proxy.stallServerToClient(true)
      const text = 'x'.repeat(30_000)
      for (let i = 0; i < 40; i++) await fast.connection.push(wireEvents(fast.clientId, i * 10 + 1, 10, (n) => ({ id: `t${n}`, text })))
      await waitFor(
        () => slowServer.stats.slowConsumers > 0,
        () => JSON.stringify(slowServer.stats),
        10_000,
      )
      await waitFor(() => fast.cursor === 400)
    } finally {
      await slow.connection.close()
      await fast.connection.close()
      await proxy.close()
      await slowServer.close()
    }
  })
})

describe('HTTP long-poll: bad input', () => {
  const post = (path: string, body: string, token = 'alice') =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body,
    })

  it('answers with typed errors and statuses', async () => {
    const malformed = await post('/stores/a9/push', '{"v":1')
    expect([malformed.status, (await malformed.json()).code]).toEqual([400, 'Protocol'])
    const invalid = await post('/stores/a9/push', JSON.stringify({ v: 1, type: 'push', reqId: 1, events: [event('c1', 1, { seq: 5 })] }))
    expect([invalid.status, (await invalid.json()).code]).toEqual([422, 'Invalid'])
    const unauthorized = await post(
      '/stores/a9/push',
      JSON.stringify({ v: 1, type: 'push', reqId: 1, events: [event('c1', 1)] }),
      'mallory',
    )
    expect(unauthorized.status).toBe(401)
    const forbidden = await post('/stores/b9/push', JSON.stringify({ v: 1, type: 'push', reqId: 1, events: [event('c1', 1)] }), 'alice')
    expect(forbidden.status).toBe(403)
    const huge = await post('/stores/a9/push', 'x'.repeat(70 * 1024))
    expect(huge.status).toBe(413)
    const badAfter = await fetch(`${server.url}/stores/a9/pull?after=-1`, { headers: { Authorization: 'Bearer alice' } })
    expect(badAfter.status).toBe(400)
    const wrongMethod = await fetch(`${server.url}/stores/a9/push`, { headers: { Authorization: 'Bearer alice' } })
    expect(wrongMethod.status).toBe(405)
    expect((await fetch(`${server.url}/nothing`)).status).toBe(404)
    const b9 = await fetch(`${server.url}/stores/b9/info`, { headers: { Authorization: 'Bearer bob' } })
    expect((await b9.json()).head).toBe(0)
  })

  it('answers a push flood with 429 and Retry-After', async () => {
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        post('/stores/a10/push', JSON.stringify({ v: 1, type: 'push', reqId: i, events: [event('h', 1)] })),
      ),
    )
    const limited = answers.filter((r) => r.status === 429)
    expect(limited.length).toBeGreaterThan(0)
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
  })

  it('serves identical catch-up requests identical bodies with an ETag, private to the token', async () => {
    // bob: alice's pushes are still rate limited after the flood above
    for (let i = 1; i <= 5; i++)
      expect(
        (await post('/stores/b11/push', JSON.stringify({ v: 1, type: 'push', reqId: i, events: [event('e', i)] }), 'bob')).status,
      ).toBe(200)
    const get = (headers: Record<string, string> = {}) =>
      fetch(`${server.url}/stores/b11/pull?after=0`, { headers: { Authorization: 'Bearer bob', ...headers } })
    const first = await get()
    const second = await get()
    expect(await first.text()).toBe(await second.text())
    expect(first.headers.get('etag')).toBe(second.headers.get('etag'))
    expect(first.headers.get('cache-control')).toMatch(/private/)
    expect(first.headers.get('vary')).toMatch(/Authorization/)
    expect(first.headers.get('cairn-head')).toBe('5')
    const cached = await get({ 'If-None-Match': first.headers.get('etag')! })
    expect(cached.status).toBe(304)
  })
})
