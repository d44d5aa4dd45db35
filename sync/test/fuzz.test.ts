import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSyncServer, memoryStorage, type SyncServer } from '../src/server/index.ts'
import { event, hello, rawSocket, type RawSocket } from './raw-socket.ts'

/**
 * Throws generated frames at a running server, before and after auth: garbage, random JSON, and
 * near-valid messages with fields swapped for hostile values. The server must answer, count, and
 * keep serving an honest client, with no event leaking into a store of another principal.
 * `FUZZ_FRAMES=100000` throws more (the default keeps `npm test` quick); `FUZZ_SEED` replays.
 */
const total = Number(process.env.FUZZ_FRAMES ?? 20_000)
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31)
// a socket per frame before auth (connection setup dominates: ~4 ms each on 2 cores), one stream after
const preAuth = Math.floor(total * 0.075)
const postAuth = total - preAuth

const hostile = fc.oneof(
  fc.constantFrom(null, true, -1, 0, 1.5, 1e308, -0, 2 ** 53, '', 'x'.repeat(300), [], {}, '__proto__'),
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.jsonValue({ maxDepth: 4 }),
)
const maybe = <T>(valid: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: hostile })
const wireEvent = fc.record(
  {
    eventId: maybe(fc.string({ minLength: 1, maxLength: 8 })),
    producerSeq: maybe(fc.integer({ min: 1, max: 5 })),
    name: maybe(fc.constantFrom('v1.TodoCreated', 'v1.X')),
    args: maybe(fc.jsonValue({ maxDepth: 3 })),
    clientId: maybe(fc.constantFrom('fuzz', 'other')),
    sessionId: maybe(fc.constant('s')),
    seq: fc.integer({ min: 1, max: 10 }),
  },
  { requiredKeys: ['eventId', 'producerSeq', 'name', 'args', 'clientId', 'sessionId'] },
)
const message = fc.oneof(
  fc.record({
    v: maybe(fc.constant(1)),
    type: fc.constant('push'),
    reqId: maybe(fc.nat()),
    events: maybe(fc.array(wireEvent, { maxLength: 4 })),
  }),
  fc.record({ v: maybe(fc.constant(1)), type: fc.constant('pull'), after: maybe(fc.nat(20)), live: maybe(fc.boolean()) }),
  fc.record({
    v: maybe(fc.constant(1)),
    type: maybe(fc.constantFrom('hello', 'ping', 'pong', 'welcome', 'events', 'nope')),
    storeId: maybe(fc.constantFrom('a-fuzz', 'b-victim')),
    token: maybe(fc.constantFrom('alice', 'bob')),
    clientId: maybe(fc.constant('fuzz')),
    sessionId: maybe(fc.constant('s')),
    cursor: maybe(fc.nat(5)),
  }),
)
const frame: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: message.map((m) => JSON.stringify(m)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v)) },
  {
    weight: 1,
    arbitrary: message.map((m) => JSON.stringify(m)).chain((t) => fc.nat(Math.max(0, t.length - 1)).map((cut) => t.slice(0, cut))),
  },
)

let server: SyncServer
beforeAll(async () => {
  server = await createSyncServer({
    port: 0,
    storage: memoryStorage(),
    limits: { maxProtocolErrors: 1e9, pushesPerSecond: 1e6, maxConnections: 1_000, maxConnectionsPerAddress: 1_000 },
    authorize: ({ token, storeId }) => {
      if (token !== 'alice' && token !== 'bob') return { refuse: 'Unauthorized' }
      return storeId.startsWith(token[0]!) ? { principal: token } : { refuse: 'Forbidden' }
    },
  })
})
afterAll(() => server.close())

async function authed(storeId: string, token: string, clientId: string): Promise<RawSocket> {
  const s = await rawSocket(server.wsUrl)
  s.send(hello(storeId, token, clientId))
  await s.next((m) => m.type === 'welcome')
  return s
}

describe('frame fuzzing (fast-check)', () => {
  it(`survives ${total} generated frames before and after auth (seed ${seed})`, async () => {
    const victim = await authed('b-victim', 'bob', 'bob')
    victim.send({ v: 1, type: 'push', reqId: 1, events: [event('bob', 1)] })
    await victim.next((m) => m.type === 'pushAck')

    // before auth: every socket gets one generated frame as its first
    const before = fc.sample(frame, { numRuns: preAuth, seed })
    let next = 0
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < before.length) {
          const text = before[next++]!
          const s = await rawSocket(server.wsUrl)
          s.send(text)
          // an answer, a close, or silence (a ping/pong before hello is allowed and a pong gets no answer)
          await Promise.race([s.closed, s.next(() => true, 200).catch(() => {})])
          s.ws.terminate()
        }
      }),
    )

    // after auth: a stream of frames on four authorized sockets
    const after = fc.sample(frame, { numRuns: postAuth, seed: seed + 1 })
    const t0 = performance.now()
    const sockets = await Promise.all([0, 1, 2, 3].map((i) => authed('a-fuzz', 'alice', i === 0 ? 'fuzz' : `other${i}`)))
    for (const [i, text] of after.entries()) sockets[i % 4]!.send(text)
    for (const s of sockets) {
      s.send({ v: 1, type: 'ping' })
      await s.next((m) => m.type === 'pong', 20_000)
    }

    console.log(`fuzz: ${before.length} frames before auth, ${after.length} after auth (${Math.round(performance.now() - t0)} ms)`)
    // the server still serves: an honest client pushes and reads its store
    const honest = await authed('a-honest', 'alice', 'honest')
    honest.send({ v: 1, type: 'push', reqId: 1, events: [event('honest', 1)] })
    expect(await honest.next((m) => m.reqId === 1)).toMatchObject({ type: 'pushAck', assigned: [1] })
    // nothing leaked into bob's store, and the fuzzed store is a clean log stamped with alice
    const bobLog = await fetch(`${server.url}/stores/b-victim/pull?after=0`, { headers: { Authorization: 'Bearer bob' } }).then((r) =>
      r.json(),
    )
    expect(bobLog.batch.map((e: any) => [e.seq, e.clientId, e.principal])).toEqual([[1, 'bob', 'bob']])
    const fuzzLog = await fetch(`${server.url}/stores/a-fuzz/pull?after=0`, { headers: { Authorization: 'Bearer alice' } }).then((r) =>
      r.json(),
    )
    fuzzLog.batch.forEach((e: any, i: number) => expect([e.seq, e.principal]).toEqual([i + 1, 'alice']))
    expect(server.stats.protocolErrors).toBeGreaterThan(total / 20)
    for (const s of [...sockets, victim, honest]) s.ws.terminate()
  }, 120_000)

  it('survives generated HTTP push bodies', async () => {
    const bodies = fc.sample(frame, { numRuns: Math.floor(total / 40), seed: seed + 2 })
    const statuses = new Set<number>()
    for (let i = 0; i < bodies.length; i += 50) {
      const answers = await Promise.all(
        bodies.slice(i, i + 50).map((body) =>
          fetch(`${server.url}/stores/a-http/push`, { method: 'POST', headers: { Authorization: 'Bearer alice' }, body }).then(
            async (r) => {
              const json = await r.json()
              expect(json.v).toBe(1)
              return r.status
            },
          ),
        ),
      )
      for (const s of answers) statuses.add(s)
    }
    expect([...statuses].every((s) => [200, 400, 409, 413, 422].includes(s))).toBe(true)
    expect((await fetch(`${server.url}/stores/a-http/info`, { headers: { Authorization: 'Bearer alice' } })).status).toBe(200)
  }, 60_000)
})
