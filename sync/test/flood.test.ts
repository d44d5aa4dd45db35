import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { createSyncServer, memoryStorage } from '../src/server/index.ts'
import { schema } from './fixtures.ts'
import { event, hello, rawSocket, type RawSocket } from './raw-socket.ts'

/** push→ack times (ms) of `count` pushes one after another, a few ms apart, as a well-behaved client makes them. */
async function pushTimes(s: RawSocket, clientId: string, from: number, count: number): Promise<number[]> {
  const times: number[] = []
  for (let i = from; i < from + count; i++) {
    const started = performance.now()
    s.send({ v: 1, type: 'push', reqId: i, events: [event(clientId, i)] })
    await s.next((m) => m.reqId === i, 30_000)
    times.push(performance.now() - started)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return times
}

const quantile = (times: number[], q: number) => [...times].sort((a, b) => a - b)[Math.min(times.length - 1, Math.floor(q * times.length))]!

/**
 * The attacker runs in its own process (its 120 MB of frames would otherwise share the server's
 * heap and garbage collector): it says hello, pipelines `frames` pushes of 100 valid 8 kB events
 * (~0.8 MB each) at once, prints "sent" and waits to be killed.
 */
const ATTACKER = `
const { createRequire } = await import('node:module')
const WebSocket = createRequire(process.cwd() + '/package.json')('ws')
const [url, frames] = [process.argv[1], Number(process.argv[2])]
const ws = new WebSocket(url)
ws.on('error', () => {})
ws.on('open', () => ws.send(JSON.stringify({ v: 1, type: 'hello', storeId: 'shared', clientId: 'attacker', sessionId: 's', cursor: 0 })))
ws.once('message', () => {
  const text = 'x'.repeat(8000)
  for (let f = 0; f < frames; f++) {
    const events = Array.from({ length: 100 }, (_, i) => ({ eventId: 'a' + f + '-' + i, producerSeq: f * 100 + i + 1, name: 'v1.TodoCreated', args: { id: 'a' + f + '-' + i, text }, clientId: 'attacker', sessionId: 's' }))
    ws.send(JSON.stringify({ v: 1, type: 'push', reqId: f + 1, events }))
  }
  process.stdout.write('sent\\n')
})
`

describe('a flood of large pushes from one authenticated connection', () => {
  it('keeps a well-behaved client’s push→ack p99 under 50 ms (bytes are rate limited before decoding)', async () => {
    const server = await createSyncServer({ port: 0, storage: memoryStorage(), schema, authorize: () => ({ principal: 'p' }) })
    const honest = await rawSocket(server.wsUrl)
    let attacker: ReturnType<typeof spawn> | undefined
    try {
      honest.send(hello('shared', undefined, 'honest'))
      await honest.next((m) => m.type === 'welcome')
      await pushTimes(honest, 'honest', 1, 10) // warm-up
      const baseline = await pushTimes(honest, 'honest', 11, 60)
      attacker = spawn(process.execPath, ['--input-type=module', '-e', ATTACKER, server.wsUrl, '150'], {
        cwd: import.meta.dirname,
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      await new Promise<void>((resolve, reject) => {
        attacker!.stdout!.on('data', (d: Buffer) => String(d).includes('sent') && resolve())
        attacker!.once('exit', (code) => reject(new Error(`the attacker exited (${code})`)))
      })
      const during = await pushTimes(honest, 'honest', 71, 150)
      const attackerEvents = server.stats.eventsAppended - 220
      const [b50, b99, d50, d99] = [quantile(baseline, 0.5), quantile(baseline, 0.99), quantile(during, 0.5), quantile(during, 0.99)]
      console.log(
        `push→ack ms: baseline p50 ${b50.toFixed(1)} p99 ${b99.toFixed(1)}; during the flood p50 ${d50.toFixed(1)} p99 ${d99.toFixed(1)}; ` +
          `attacker events appended meanwhile ${attackerEvents} of 15000`,
      )
      // under 50 ms; on a machine loaded enough that even the quiet baseline is slow, three times that
      expect(d99).toBeLessThan(Math.max(50, 3 * b99))
      // the attacker was slowed to its byte budget (1 MiB/s after a 1 MiB burst), not served in full
      expect(attackerEvents).toBeLessThan(15_000 / 2)
    } finally {
      attacker?.kill()
      honest.ws.terminate()
      await server.close()
    }
  }, 60_000)
})
