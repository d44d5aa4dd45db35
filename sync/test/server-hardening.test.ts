import { connect as tcpConnect, type Socket } from 'node:net'
import { request } from 'node:http'
import WebSocket from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { CairnError, SyncError } from '@cairn/core'
import { createSyncServer, memoryStorage, type SyncServer } from '../src/server/index.ts'
import type { SyncServerOptions } from '../src/server/options.ts'
import { event, hello, rawSocket, type RawSocket } from './raw-socket.ts'
import { waitFor } from './helpers.ts'

const cleanup: (() => unknown)[] = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

type Logged = { message: string; context: Readonly<Record<string, unknown>> }
async function server(options: Partial<SyncServerOptions<unknown>> = {}): Promise<SyncServer & { logged: Logged[] }> {
  const logged: Logged[] = []
  const s = await createSyncServer({
    port: 0,
    storage: memoryStorage(),
    authorize: ({ token }) => (token === 'ok' ? { principal: 'p' } : { refuse: 'Unauthorized' }),
    logger: { error: (message, context) => logged.push({ message, context }) },
    ...options,
  })
  cleanup.push(() => s.close())
  return Object.assign(s, { logged })
}
async function socket(url: string, options?: WebSocket.ClientOptions): Promise<RawSocket> {
  const s = await rawSocket(url, options)
  cleanup.push(() => s.ws.terminate())
  return s
}
const get = (url: string, headers: Record<string, string> = {}, method = 'GET') =>
  fetch(url, { method, headers: { Authorization: 'Bearer ok', ...headers } })

describe('createSyncServer: options', () => {
  it.each([
    [{ limits: { maxFrameBytes: -1 } }, /limits.maxFrameBytes must be a positive integer, not -1/],
    [{ limits: { pushesPerSecond: '100' } }, /limits.pushesPerSecond must be a positive integer/],
    [{ limits: { maxFrameByte: 1000 } }, /unknown limit "maxFrameByte"/],
    [{ limits: { maxEventBytes: 2_000_000 } }, /maxEventBytes .* cannot exceed limits.maxFrameBytes/],
    [{ limits: { maxFrameBytes: 8192, maxHelloBytes: 10_000 } }, /maxHelloBytes .* cannot exceed limits.maxFrameBytes/],
    [{ limits: 5 }, /"limits" must be an object/],
    [{ authorize: undefined }, /"authorize" must be a function/],
    [{ allowedOrigins: 'https://a.example' }, /"allowedOrigins" must be/],
    [{ trustProxy: '127.0.0.1' }, /"trustProxy" must be an array/],
  ])('refuses %j with a CairnError naming the option', async (bad, message) => {
    const options = { storage: memoryStorage(), authorize: () => ({ principal: 'p' }), ...bad } as unknown as SyncServerOptions<unknown>
    const error = await createSyncServer(options).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(CairnError)
    expect((error as CairnError).code).toBe('InvalidOption')
    expect((error as CairnError).message).toMatch(message)
  })
})

describe('createSyncServer: limits', () => {
  it('a small maxFrameBytes alone lowers the defaults that must fit in a frame', async () => {
    const s = await server({ limits: { maxFrameBytes: 8192 } })
    expect([s.limits.maxEventBytes, s.limits.maxHelloBytes]).toEqual([8192, 8192])
  })
})

describe('internal errors', () => {
  const secret = 'postgres://admin:hunter2@db.internal/prod'

  it('a throwing authorize reaches neither transport verbatim: generic typed error, detail logged, counted', async () => {
    const s = await server({
      authorize: () => {
        throw new Error(`connect ${secret} failed`)
      },
    })
    const ws = await socket(s.wsUrl)
    ws.send(hello('a', 'ok'))
    const refusal = await ws.next()
    expect(refusal).toMatchObject({ type: 'error', code: 'Unauthorized' })
    expect(JSON.stringify(refusal)).not.toMatch(/hunter2|postgres/)
    const res = await get(`${s.url}/stores/a/info`)
    const body = await res.text()
    expect(res.status).toBe(401)
    expect(body).not.toMatch(/hunter2|postgres/)
    expect(s.logged.map((l) => l.message)).toEqual(['authorize threw', 'authorize threw'])
    expect(String(s.logged[0]!.context.error)).toMatch(/hunter2/)
    expect(s.logged[0]!.context).toMatchObject({ storeId: 'a', transport: 'ws' })
    expect(s.stats.internalErrors).toBe(2)
  })

  it('a throwing authorizePush: generic Forbidden, detail logged', async () => {
    const s = await server({
      authorizePush: () => {
        throw new Error(`query ${secret}`)
      },
    })
    const ws = await socket(s.wsUrl)
    ws.send(hello('a', 'ok'))
    await ws.next((m) => m.type === 'welcome')
    ws.send({ v: 1, type: 'push', reqId: 1, events: [event('c1', 1)] })
    const refusal = await ws.next((m) => m.reqId === 1)
    expect(refusal).toMatchObject({ type: 'pushError', code: 'Forbidden' })
    expect(JSON.stringify(refusal)).not.toMatch(/hunter2|postgres/)
    expect(s.logged[0]).toMatchObject({ message: 'authorizePush threw', context: { storeId: 'a' } })
    expect(s.stats.internalErrors).toBe(1)
  })

  it('a failing storage: the WebSocket closes with 1011, HTTP answers 500, both without the detail, logged with context', async () => {
    const storage = memoryStorage()
    const s = await server({
      storage: {
        ...storage,
        page: async (storeId) => {
          throw new Error(`disk of ${storeId} at ${secret}`)
        },
      },
    })
    const ws = await socket(s.wsUrl)
    ws.send(hello('broken', 'ok'))
    await ws.next((m) => m.type === 'welcome')
    ws.send({ v: 1, type: 'pull', after: 0, live: true })
    const closed = await ws.closed
    expect(closed.code).toBe(1011)
    expect(closed.reason).not.toMatch(/hunter2/)
    const res = await get(`${s.url}/stores/broken/pull?after=0`)
    expect(res.status).toBe(500)
    expect(await res.text()).not.toMatch(/hunter2|disk/)
    expect(s.logged).toHaveLength(2)
    expect(s.logged.every((l) => l.context.storeId === 'broken' && /hunter2/.test(String(l.context.error)))).toBe(true)
    expect(s.stats.internalErrors).toBe(2)
  })
})

describe('storage unavailable', () => {
  it('refuses with a retryable Unavailable: WebSocket close 4503 at connect, HTTP 503 with Retry-After; both work once it is back', async () => {
    const storage = memoryStorage()
    let down = true
    const unavailable = () => new SyncError('Unavailable', 'the database is restarting', { retryAfterMs: 2_000 })
    const s = await server({
      storage: {
        ...storage,
        info: async (storeId) => {
          if (down) throw unavailable()
          return storage.info(storeId)
        },
        append: async (...args: Parameters<typeof storage.append>) => {
          if (down) throw unavailable()
          return storage.append(...args)
        },
      },
    })
    const ws = await socket(s.wsUrl)
    ws.send(hello('db', 'ok'))
    expect(await ws.next((m) => m.type === 'error')).toMatchObject({ code: 'Unavailable', retryAfterMs: 2_000 })
    expect((await ws.closed).code).toBe(4503)
    const push = () =>
      fetch(`${s.url}/stores/db/push`, {
        method: 'POST',
        headers: { Authorization: 'Bearer ok', 'Content-Type': 'application/json' },
        body: JSON.stringify({ v: 1, type: 'push', reqId: 1, events: [event('c1', 1)] }),
      })
    const refused = await push()
    expect([refused.status, refused.headers.get('retry-after')]).toEqual([503, '2'])
    expect(await refused.json()).toMatchObject({ code: 'Unavailable' })
    down = false
    expect((await push()).status).toBe(200)
    const again = await socket(s.wsUrl)
    again.send(hello('db', 'ok'))
    expect(await again.next((m) => m.type === 'welcome')).toMatchObject({ head: 1 })
  })
})

describe('WebSocket: ping', () => {
  it('is answered at once while pushes wait for the storage, and the pushes are still acked in order', async () => {
    const storage = memoryStorage()
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const s = await server({
      storage: {
        ...storage,
        append: async (...args: Parameters<typeof storage.append>) => {
          await gate
          return storage.append(...args)
        },
      },
    })
    const ws = await socket(s.wsUrl)
    ws.send(hello('slow', 'ok'))
    await ws.next((m) => m.type === 'welcome')
    for (let i = 1; i <= 3; i++) ws.send({ v: 1, type: 'push', reqId: i, events: [event('c1', i)] })
    ws.send({ v: 1, type: 'ping' })
    // the pong comes while all three pushes still wait for the database
    await ws.next((m) => m.type === 'pong')
    expect(ws.messages.filter((m) => m.type === 'pushAck')).toEqual([])
    release()
    const acks = [await ws.next((m) => m.reqId === 1), await ws.next((m) => m.reqId === 2), await ws.next((m) => m.reqId === 3)]
    expect(acks.map((a) => a.type)).toEqual(['pushAck', 'pushAck', 'pushAck'])
  })
})

describe('WebSocket: frames refused while decoding', () => {
  it('count toward maxProtocolErrors (deeply nested args), then the connection is closed', async () => {
    const s = await server({ limits: { maxProtocolErrors: 5 } })
    const ws = await socket(s.wsUrl)
    ws.send(hello('a', 'ok'))
    await ws.next((m) => m.type === 'welcome')
    const deep = JSON.parse('['.repeat(200) + ']'.repeat(200))
    for (let i = 1; i <= 6; i++) ws.send({ v: 1, type: 'push', reqId: i, events: [event('c1', 1, { args: deep })] })
    expect((await ws.closed).code).toBe(4400)
    expect(ws.messages.filter((m) => m.code === 'Invalid')).toHaveLength(5)
  })
})

describe('HTTP: push bytes', () => {
  it('an address pushing more than pushBytesPerSecond gets 429 with Retry-After, before its events are decoded', async () => {
    const s = await server({ limits: { maxFrameBytes: 8192, maxEventBytes: 4096, maxHelloBytes: 4096, pushBytesPerSecond: 1024 } })
    const statuses: number[] = []
    for (let i = 1; i <= 3; i++) {
      const body = JSON.stringify({ v: 1, type: 'push', reqId: i, events: [event('c1', i, { args: { id: 'x', text: 'y'.repeat(3500) } })] })
      const res = await fetch(`${s.url}/stores/a/push`, { method: 'POST', headers: { Authorization: 'Bearer ok' }, body })
      statuses.push(res.status)
      if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    }
    expect(statuses).toEqual([200, 200, 429])
    expect(s.stats.refused.RateLimited).toBe(1)
  })
})

describe('WebSocket: before hello', () => {
  it('a first frame larger than maxHelloBytes is refused (1009) without being buffered whole', async () => {
    const s = await server()
    const ws = await socket(s.wsUrl)
    ws.send(JSON.stringify({ ...hello('a', 'ok'), pad: 'x'.repeat(200_000) }))
    expect((await ws.closed).code).toBe(1009)
    expect(s.stats.preAuthOverflows).toBe(1)
    // a normal hello still works
    const ok = await socket(s.wsUrl)
    ok.send(hello('a', 'ok'))
    expect(await ok.next()).toMatchObject({ type: 'welcome' })
  })

  it('the bytes held for connections not welcomed yet are capped over the whole server', async () => {
    const s = await server({ limits: { maxPreAuthBytes: 40_000, maxHelloBytes: 16_000 } })
    // five connections each send 12 kB of a hello that never completes
    const partial = Buffer.concat([Buffer.from([0x81, 0xfe, 0x3a, 0x98, 0, 0, 0, 0]), Buffer.alloc(12_000, 0x20)]) // 15,000-byte frame, masked with 0s
    const sockets: Socket[] = []
    for (let i = 0; i < 5; i++) {
      const raw = await upgradeRaw(s.port)
      cleanup.push(() => raw.destroy())
      raw.write(partial)
      sockets.push(raw)
    }
    await waitFor(
      () => sockets.filter((k) => k.destroyed || k.readableEnded).length >= 2,
      () => JSON.stringify(s.stats),
    )
    expect(s.stats.preAuthOverflows).toBeGreaterThanOrEqual(2)
    // the budget comes back when those connections go
    for (const k of sockets) k.destroy()
    await waitFor(() => s.stats.openConnections === 0)
    const ok = await socket(s.wsUrl)
    ok.send(hello('a', 'ok'))
    expect(await ok.next()).toMatchObject({ type: 'welcome' })
  })
})

/** A raw TCP socket that completed a WebSocket upgrade (to send bytes no client library would). */
function upgradeRaw(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = tcpConnect(port, '127.0.0.1', () => {
      sock.write(
        'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      )
    })
    sock.once('data', (d) => (String(d).startsWith('HTTP/1.1 101') ? resolve(sock) : reject(new Error(String(d)))))
    sock.on('error', () => undefined)
  })
}

describe('slowloris', () => {
  it('a request whose headers trickle in is cut after headersTimeoutMs, not after Node’s 30 s check', async () => {
    const s = await server({ limits: { headersTimeoutMs: 400 } })
    const sock = tcpConnect(s.port, '127.0.0.1')
    cleanup.push(() => sock.destroy())
    sock.on('error', () => undefined)
    await new Promise((resolve) => sock.once('connect', resolve))
    sock.write('GET /stores/a/info HTTP/1.1\r\nHost: x\r\n')
    const started = Date.now()
    const timer = setInterval(() => sock.writable && sock.write(`X-${Date.now()}: 1\r\n`), 100)
    cleanup.push(() => clearInterval(timer))
    await new Promise((resolve) => sock.once('close', resolve))
    expect(Date.now() - started).toBeLessThan(2_500)
    expect(s.stats.clientErrors).toBeGreaterThan(0)
  })
})

describe('allowedOrigins', () => {
  it('refuses other pages on HTTP (a text/plain POST included) and on the WebSocket upgrade; CORS for allowed ones', async () => {
    const s = await server({ allowedOrigins: ['http://localhost:5173', /^https:\/\/[a-z]+\.example\.com$/] })
    const push = JSON.stringify({ v: 1, type: 'push', reqId: 1, events: [event('c1', 1)] })
    const evil = await fetch(`${s.url}/stores/a/push`, {
      method: 'POST',
      headers: { Origin: 'https://evil.test', 'Content-Type': 'text/plain' },
      body: push,
    })
    expect(evil.status).toBe(403)
    expect((await evil.json()).code).toBe('Forbidden')
    await expect(socket(s.wsUrl, { origin: 'https://evil.test' })).rejects.toThrow(/403/)
    const page = await socket(s.wsUrl, { origin: 'https://app.example.com' })
    page.send(hello('a', 'ok'))
    expect(await page.next()).toMatchObject({ type: 'welcome' })

    const preflight = await fetch(`${s.url}/stores/a/push`, {
      method: 'OPTIONS',
      headers: {
        Origin: 'http://localhost:5173',
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization',
      },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:5173')
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Authorization/)
    expect(preflight.headers.get('access-control-allow-methods')).toMatch(/POST/)
    const badPreflight = await fetch(`${s.url}/stores/a/push`, { method: 'OPTIONS', headers: { Origin: 'https://evil.test' } })
    expect(badPreflight.status).toBe(403)
    const info = await get(`${s.url}/stores/a/info`, { Origin: 'http://localhost:5173' })
    expect(info.status).toBe(200)
    expect(info.headers.get('access-control-allow-origin')).toBe('http://localhost:5173')
    expect(info.headers.get('access-control-expose-headers')).toMatch(/Cairn-Head/)
    // not from a browser: no Origin, no check
    expect((await get(`${s.url}/stores/a/info`)).status).toBe(200)
  })
})

describe('HTTP details', () => {
  it('takes the Authorization scheme in any case', async () => {
    const s = await server()
    expect((await fetch(`${s.url}/stores/a/info`, { headers: { Authorization: 'bearer ok' } })).status).toBe(200)
    expect((await fetch(`${s.url}/stores/a/info`, { headers: { Authorization: 'BEARER ok' } })).status).toBe(200)
  })

  it('answers HEAD on the GET routes, without a body and without holding a long-poll', async () => {
    const s = await server()
    const info = await get(`${s.url}/stores/a/info`, {}, 'HEAD')
    expect(info.status).toBe(200)
    expect(await info.text()).toBe('')
    const started = Date.now()
    const pull = await get(`${s.url}/stores/a/pull?after=0&live=1`, {}, 'HEAD')
    expect(pull.status).toBe(200)
    expect(pull.headers.get('cairn-head')).toBe('0')
    expect(Date.now() - started).toBeLessThan(1_000)
  })

  it('answers an oversized chunked body with a typed 413', async () => {
    const s = await server({ limits: { maxFrameBytes: 32 * 1024, maxEventBytes: 16 * 1024, maxHelloBytes: 8 * 1024 } })
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${s.url}/stores/a/push`,
        { method: 'POST', headers: { Authorization: 'Bearer ok', 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } },
        (res) => {
          let body = ''
          res.on('data', (c) => (body += c))
          res.on('end', () => resolve({ status: res.statusCode!, body }))
        },
      )
      req.on('error', reject)
      const chunk = 'x'.repeat(8 * 1024)
      let sent = 0
      const more = () => {
        while (sent < 20 && req.write(chunk)) sent++
        if (sent < 20) req.once('drain', more)
        else req.end()
      }
      more()
    })
    expect(answer.status).toBe(413)
    expect(JSON.parse(answer.body)).toMatchObject({ type: 'error', code: 'TooLarge' })
  })

  it('refuses a pull or push carrying another backendId with 409 BackendIdMismatch', async () => {
    const s = await server()
    const pull = await get(`${s.url}/stores/a/pull?after=0`, { 'Cairn-Backend-Id': 'not-this-one' })
    expect([pull.status, (await pull.json()).code]).toEqual([409, 'BackendIdMismatch'])
    const push = await fetch(`${s.url}/stores/a/push`, {
      method: 'POST',
      headers: { Authorization: 'Bearer ok', 'Cairn-Backend-Id': 'not-this-one' },
      body: JSON.stringify({ v: 1, type: 'push', reqId: 1, events: [event('c1', 1)] }),
    })
    expect([push.status, (await push.json()).code]).toEqual([409, 'BackendIdMismatch'])
    expect((await (await get(`${s.url}/stores/a/info`)).json()).head).toBe(0)
  })

  it('serves over HTTP the store ids that work over WebSocket, and refuses the same bad ones on both', async () => {
    const s = await server()
    for (const id of ['a..b', '.hidden', 'ü'.repeat(256), 'team/alice', '日本語 ストア', 'x?y#z%']) {
      const res = await get(`${s.url}/stores/${encodeURIComponent(id).replace(/\./g, '%2E')}/info`)
      expect(res.status, id.slice(0, 20)).toBe(200)
      const ws = await socket(s.wsUrl)
      ws.send(hello(id, 'ok'))
      expect(await ws.next(), id.slice(0, 20)).toMatchObject({ type: 'welcome' })
    }
    for (const id of ['..', 'ü'.repeat(257), 'a\u0000b', '\ud800']) {
      const res = await get(`${s.url}/stores/${encodeURIComponent(id.replace(/\ud800/, 'x')).replace(/x$/, '%ED%A0%80')}/info`)
      expect(res.status, JSON.stringify(id.slice(0, 20))).toBe(id === '..' ? 404 : 400)
      const ws = await socket(s.wsUrl)
      ws.send(hello(id, 'ok'))
      expect(await ws.next(), JSON.stringify(id.slice(0, 20))).toMatchObject({ type: 'error', code: 'Protocol' })
    }
  })
})

describe('trustProxy', () => {
  it('takes the client address from X-Forwarded-For only from trusted hops', async () => {
    const seen: string[] = []
    const s = await server({
      trustProxy: ['loopback'],
      authorize: ({ remoteAddress }) => (seen.push(remoteAddress), { principal: 'p' }),
    })
    await get(`${s.url}/stores/a/info`, { 'X-Forwarded-For': '203.0.113.9' })
    await get(`${s.url}/stores/a/info`, { 'X-Forwarded-For': '198.51.100.1, 203.0.113.9, 127.0.0.1' })
    const ws = await socket(s.wsUrl, { headers: { 'X-Forwarded-For': '203.0.113.7' } })
    ws.send(hello('a', 'ok'))
    await ws.next()
    const untrusted = await server({ authorize: ({ remoteAddress }) => (seen.push(remoteAddress), { principal: 'p' }) })
    await get(`${untrusted.url}/stores/a/info`, { 'X-Forwarded-For': '203.0.113.9' })
    expect(seen).toEqual(['203.0.113.9', '203.0.113.9', '203.0.113.7', '127.0.0.1'])
  })

  it('applies maxConnectionsPerAddress per forwarded client', async () => {
    const s = await server({ trustProxy: ['127.0.0.1'], limits: { maxConnectionsPerAddress: 1 } })
    const a = await socket(s.wsUrl, { headers: { 'X-Forwarded-For': '203.0.113.1' } })
    await socket(s.wsUrl, { headers: { 'X-Forwarded-For': '203.0.113.2' } })
    await expect(socket(s.wsUrl, { headers: { 'X-Forwarded-For': '203.0.113.1' } })).rejects.toThrow(/429/)
    expect(a.isClosed()).toBe(false)
  })
})
