import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createStorePromise, formatSeqNum, makeInMemoryAdapter, SyncError, type Store, type SyncBackend, type WireEvent } from '@cairn/core'
import WebSocket from 'ws'
import { afterAll, describe, expect, it } from 'vitest'
import { makeHttpSync, makeWsSync } from '../src/index.ts'
import { sqliteStorage } from '../src/server/index.ts'
import { mulberry32 } from './fault-proxy.ts'
import { events, schema } from './fixtures.ts'
import { connect, sleep, waitFor } from './helpers.ts'
import { ServerProcess } from './server-process.ts'

/**
 * The sync server killed with SIGKILL under load and started again on the same data directory:
 * raw writers push batches (re-sending a batch whose ack never came, as clients do) and stores
 * commit over WebSocket and long-poll while the server dies. Afterwards every acknowledged event
 * is in the log once, under the number its ack gave, the log is gap-free, and every store
 * converges within seconds of the last restart. `SERVER_KILLS=25` kills more (`npm run
 * soak:sockets`); `KILL_SEED` replays a run's timings.
 */
const kills = Number(process.env.SERVER_KILLS ?? 3)
const seed = Number(process.env.KILL_SEED ?? Math.floor(Math.random() * 2 ** 31))
const TOKEN = 'kill-test-token'
const STORE = 'killed'
/** A store must hold the server's log this soon after the last restart. */
const CONVERGE_MS = 10_000

const dir = mkdtempSync(join(tmpdir(), 'cairn-kill-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const backoff = { baseMs: 20, capMs: 250 }
const backendFor = (transport: 'ws' | 'http', server: ServerProcess): SyncBackend =>
  transport === 'ws'
    ? makeWsSync({ url: server.wsUrl, getAuthToken: () => TOKEN, WebSocket, backoff, pingIntervalMs: 500, pongTimeoutMs: 1_000 })
    : makeHttpSync({ url: server.httpUrl, getAuthToken: () => TOKEN, backoff, requestTimeoutMs: 2_000 })

/**
 * Pushes batches of 1..8 events until stopped; a batch whose push failed is pushed again, the
 * same events under the same producerSeqs, until acknowledged. Records each ack.
 */
function startWriter(backend: SyncBackend, clientId: string, random: () => number) {
  const recorder = connect(backend, { storeId: STORE, clientId })
  const acked = new Map<string, number>()
  const stats = { batches: 0, retries: 0 }
  let running = true
  let next = 1
  const done = (async () => {
    while (running) {
      const size = 1 + Math.floor(random() * 8)
      const batch: WireEvent[] = Array.from({ length: size }, (_, i) => ({
        eventId: `${clientId}-${next + i}`,
        producerSeq: next + i,
        name: 'v1.TodoCreated',
        args: { id: `${clientId}-${next + i}`, text: 'x'.repeat(Math.floor(random() * 200)) },
        clientId,
        sessionId: 's1',
      }))
      for (;;) {
        while (!recorder.connection.connected) await sleep(5)
        let timer: ReturnType<typeof setTimeout> | undefined
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new SyncError('Timeout', 'no ack within 3 s')), 3_000)
        })
        try {
          const ack = await Promise.race([recorder.connection.push(batch), timeout])
          batch.forEach((e, i) => acked.set(e.eventId, ack.assigned[i]!))
          stats.batches++
          break
        } catch (e) {
          if (!(e instanceof SyncError) || (e.code !== 'Disconnected' && e.code !== 'Timeout')) throw e
          stats.retries++
          if (e.code === 'Timeout') recorder.connection.reconnect()
        } finally {
          clearTimeout(timer)
        }
      }
      next += size
      await sleep(Math.floor(random() * 10))
    }
  })()
  return {
    acked,
    stats,
    stop: async () => {
      running = false
      await done
      await recorder.connection.close()
    },
  }
}

/** A store committing a todo every few ms until stopped. */
async function startCommitter(name: string, backend: SyncBackend, random: () => number) {
  const errors: unknown[] = []
  const store: Store<typeof schema> = await createStorePromise({
    schema,
    adapter: makeInMemoryAdapter(),
    storeId: STORE,
    onError: (e) => errors.push(e),
    sync: { backend, pushTimeoutMs: 1_500 },
  })
  let running = true
  let committed = 0
  const done = (async () => {
    while (running) {
      store.commit(events.todoCreated({ id: `${name}-${committed}`, text: name }))
      committed++
      await sleep(2 + Math.floor(random() * 15))
    }
  })()
  return {
    name,
    store,
    errors,
    committed: () => committed,
    stop: async () => {
      running = false
      await done
    },
  }
}

const headOf = (store: Store) => Number(/^e(\d+)/.exec(store.syncStatus.localHead)?.[1] ?? -1)

describe('cairn-sync killed with SIGKILL under load', () => {
  it(
    `keeps every acked event once under its number, gap-free, and stores converge after the last restart (${kills} kills)`,
    async () => {
      const random = mulberry32(seed)
      const context = `(KILL_SEED=${seed})`
      const dataDir = join(dir, `data-${seed}`)
      const server = await ServerProcess.onFreePort(dataDir, TOKEN)
      await server.start()
      const writers = [
        startWriter(backendFor('ws', server), 'wa', random),
        startWriter(backendFor('http', server), 'wb', random),
        startWriter(backendFor('ws', server), 'wc', random),
      ]
      const stores = [
        await startCommitter('ws-store', backendFor('ws', server), random),
        await startCommitter('http-store', backendFor('http', server), random),
      ]
      let lastRestart = 0
      let convergedAfterMs = -1
      try {
        for (let k = 0; k < kills; k++) {
          await sleep(250 + Math.floor(random() * 500))
          await server.kill9()
          await sleep(Math.floor(random() * 150))
          await server.start()
          lastRestart = performance.now()
        }
        await sleep(300) // load on the last server, then stop writing
        for (const w of writers) await w.stop()
        for (const s of stores) await s.stop()

        // a reader of the log, live: its cursor is the server's head once it caught up
        const probe = connect(backendFor('ws', server), { storeId: STORE })
        const serverHead = () => Math.max(probe.cursor, ...probe.welcomes.map((w) => w.head), ...probe.pages.map((p) => p.head))
        try {
          await waitFor(
            () =>
              probe.cursor === serverHead() && stores.every((s) => s.store.syncStatus.pending === 0 && headOf(s.store) === probe.cursor),
            () =>
              `${context} ${stores.map((s) => `${s.name} ${JSON.stringify(s.store.syncStatus)} ${s.errors.length} errors, the last: ${s.errors.slice(-2).map(String).join(' | ')}`).join('; ')}; server head ${serverHead()}, reader at ${probe.cursor}`,
            CONVERGE_MS,
          )
        } finally {
          await probe.connection.close()
        }
        convergedAfterMs = Math.round(performance.now() - lastRestart)
        expect(await server.stop(), server.log).toBe(0)

        const storage = sqliteStorage(join(dataDir, 'sync.db'))
        const log = (await storage.page(STORE, 0, 1_000_000)).events
        await storage.close()
        expect(
          log.map((e) => e.seq),
          `gap-free ${context}`,
        ).toEqual(log.map((_, i) => i + 1))
        expect(new Set(log.map((e) => e.eventId)).size, `each event once ${context}`).toBe(log.length)
        const at = new Map(log.map((e) => [e.eventId, e.seq]))
        let ackedCount = 0
        for (const w of writers) {
          for (const [eventId, seq] of w.acked) {
            expect(at.get(eventId), `${eventId} acked as ${seq} ${context}`).toBe(seq)
            ackedCount++
          }
        }
        const serverLog = log.map((e) => `e${e.seq} ${e.eventId} confirmed`)
        for (const s of stores) {
          expect(s.store.syncStatus.error, `${s.name} ${context}`).toBeNull()
          const synced = (await s.store.readEventlog())
            .filter((e) => !e.clientOnly)
            .map((e) => `${formatSeqNum(e.seqNum)} ${e.eventId} ${e.status}`)
          expect(synced, `${s.name} log ${context}`).toEqual(serverLog)
        }
        expect(log.length).toBe(ackedCount + stores.reduce((n, s) => n + s.committed(), 0))
        console.log(
          `server kill battery ${context}: ${kills} kills, ${log.length} events (${ackedCount} acked to raw writers, ` +
            `${writers.reduce((n, w) => n + w.stats.retries, 0)} pushes retried), stores converged ${convergedAfterMs} ms after the last restart`,
        )
      } finally {
        for (const w of writers) await w.stop()
        for (const s of stores) {
          await s.stop()
          await s.store.shutdown()
        }
        await server.kill9()
      }
    },
    120_000 + kills * 5_000,
  )
})
