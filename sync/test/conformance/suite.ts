import { SyncError } from '@cairn/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { connect, refusalOf, sleep, waitFor, wireEvents, type Recorder } from '../helpers.ts'
import type { ConformanceTarget, TargetServer } from './targets.ts'

const limits = { pullPageSize: 10, maxEventsPerPush: 20, maxEventBytes: 2_000, longPollMs: 300 }

/**
 * The transport conformance suite: the same cases for every `SyncBackend` (in-memory, WebSocket,
 * long-poll), through the `SyncBackend` port only, as the leader uses it.
 */
export function runConformance(target: ConformanceTarget): void {
  describe(`SyncBackend conformance: ${target.name}`, () => {
    let server: TargetServer
    const open: Recorder[] = []
    const client = (...args: Parameters<typeof connect>) => {
      const r = connect(...args)
      open.push(r)
      return r
    }
    const welcomed = (r: Recorder, n = 1) =>
      waitFor(
        () => r.welcomes.length >= n && r.connection.connected,
        () => `(welcomes ${r.welcomes.length}, disconnects ${r.disconnects.map(String)})`,
      )

    beforeEach(async () => {
      server = await target.start(limits)
    })
    afterEach(async () => {
      for (const r of open.splice(0)) await r.connection.close()
      await server.close()
    })

    it('push/ack: numbers the events and delivers them to every client, the pusher included', async () => {
      const a = client(server.backend())
      const b = client(server.backend())
      await welcomed(a)
      await welcomed(b)
      expect(a.welcomes[0]!.head).toBe(0)
      expect(a.welcomes[0]!.limits.pullPageSize).toBe(10)
      const ack = await a.connection.push(wireEvents(a.clientId, 1, 2))
      expect(ack.assigned).toEqual([1, 2])
      expect((await a.connection.push(wireEvents(a.clientId, 3, 1))).assigned).toEqual([3])
      await waitFor(() => b.cursor === 3 && a.cursor === 3)
      expect(b.events.map((e) => [e.seq, e.producerSeq, e.clientId])).toEqual([
        [1, 1, a.clientId],
        [2, 2, a.clientId],
        [3, 3, a.clientId],
      ])
      expect(b.events[0]!.args).toEqual({ id: 't1', text: 'text 1' })
    })

    it('pull pages are cut at page boundaries and say how many remain', async () => {
      const a = client(server.backend())
      await welcomed(a)
      for (let i = 0; i < 5; i++) await a.connection.push(wireEvents(a.clientId, 1 + i * 5, 5))
      const b = client(server.backend(), { cursor: 3 })
      await waitFor(() => b.cursor === 25)
      const pages = b.pages.filter((p) => p.events.length > 0).map((p) => [p.events[0]!.seq, p.events.at(-1)!.seq, p.remaining])
      expect(pages).toEqual([
        [4, 10, 15],
        [11, 20, 5],
        [21, 25, 0],
      ])
      expect(b.pages.at(-1)!.head).toBe(25)
    })

    it('a live pull delivers events appended after idle periods', async () => {
      const a = client(server.backend())
      const b = client(server.backend())
      await welcomed(a)
      await welcomed(b)
      for (let round = 1; round <= 2; round++) {
        await sleep(700) // longer than the server holds a long-poll
        await a.connection.push(wireEvents(a.clientId, round, 1))
        await waitFor(() => b.cursor === round)
      }
      expect(b.connection.connected).toBe(true)
    })

    it('resumes from the cursor after a reconnect', async () => {
      const a = client(server.backend())
      const b = client(server.backend())
      await welcomed(a)
      await welcomed(b)
      await a.connection.push(wireEvents(a.clientId, 1, 3))
      await waitFor(() => b.cursor === 3)
      b.connection.reconnect()
      await welcomed(b, 2)
      await a.connection.push(wireEvents(a.clientId, 4, 2))
      await waitFor(() => b.cursor === 5)
      expect(b.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
      expect(b.welcomes[1]!.head).toBeGreaterThanOrEqual(3)
    })

    it('a re-sent push is deduplicated: same numbers, nothing stored twice', async () => {
      const a = client(server.backend())
      await welcomed(a)
      const batch = wireEvents(a.clientId, 1, 3)
      expect((await a.connection.push(batch)).assigned).toEqual([1, 2, 3])
      a.connection.reconnect()
      await welcomed(a, 2)
      expect((await a.connection.push(batch)).assigned).toEqual([1, 2, 3])
      expect((await a.connection.push([...batch.slice(1), ...wireEvents(a.clientId, 4, 1)])).assigned).toEqual([2, 3, 4])
      const fresh = client(server.backend())
      await waitFor(() => fresh.cursor === 4)
      expect(fresh.events.map((e) => e.eventId)).toEqual([...batch.map((e) => e.eventId), fresh.events[3]!.eventId])
    })

    it('refuses a producer gap with the expected producerSeq, and a reused producerSeq as ClientIdCollision', async () => {
      const a = client(server.backend())
      await welcomed(a)
      const gap = await refusalOf(a.connection.push(wireEvents(a.clientId, 3, 1)))
      expect([gap.code, gap.expected]).toEqual(['ProducerGap', 1])
      await a.connection.push(wireEvents(a.clientId, 1, 1))
      const collision = await refusalOf(a.connection.push(wireEvents(a.clientId, 1, 1)))
      expect(collision.code).toBe('ClientIdCollision')
      expect(a.connection.connected).toBe(true)
    })

    it('after a server wipe, a client that synced before is refused with BackendIdMismatch', async () => {
      const a = client(server.backend())
      await welcomed(a)
      await a.connection.push(wireEvents(a.clientId, 1, 1))
      const before = a.backendId
      await server.wipe('conf')
      a.connection.reconnect()
      await waitFor(
        () => a.refused.length > 0,
        () => `(welcomes ${a.welcomes.length})`,
      )
      expect(a.refused[0]!.code).toBe('BackendIdMismatch')
      expect(a.connection.connected).toBe(false)
      const fresh = client(server.backend())
      await welcomed(fresh)
      expect(fresh.backendId).not.toBe(before)
      expect(fresh.welcomes[0]!.head).toBe(0)
    })

    it('enforces limits: too many events per push, too large an event', async () => {
      const a = client(server.backend())
      await welcomed(a)
      const many = await refusalOf(a.connection.push(wireEvents(a.clientId, 1, 21)))
      expect(many.code).toBe('TooLarge')
      const big = await refusalOf(a.connection.push(wireEvents(a.clientId, 1, 1, () => ({ id: 'x', text: 'y'.repeat(3_000) }))))
      expect([big.code, big.index]).toEqual(['Invalid', 0])
      expect((await a.connection.push(wireEvents(a.clientId, 1, 20))).assigned).toHaveLength(20)
    })

    it('closes for good: no more reconnects or callbacks', async () => {
      const a = client(server.backend())
      await welcomed(a)
      await a.connection.close()
      expect(a.connection.connected).toBe(false)
      expect((await refusalOf(a.connection.push(wireEvents(a.clientId, 1, 1)))).code).toBe('Disconnected')
    })

    if (target.auth) {
      it('fetches a fresh token on every connect and retries after Unauthorized', async () => {
        let n = 0
        // the first token is refused: the client backs off, asks again, and gets in
        const a = client(server.backend({ getAuthToken: async () => (++n === 1 ? 'expired' : `ok-${n}`) }))
        await welcomed(a)
        expect(a.disconnects.some((e) => e instanceof SyncError && e.code === 'Unauthorized')).toBe(true)
        a.connection.reconnect()
        await welcomed(a, 2)
        expect(server.tokens).toContain('expired')
        expect(server.tokens).toContain('ok-2')
        expect(server.tokens).toContain('ok-3')
      })

      it('refuses a token without access to the store as Forbidden, and stops reconnecting', async () => {
        let asked = 0
        const a = client(server.backend({ getAuthToken: () => (++asked, 'forbidden') }))
        await waitFor(() => a.refused.length > 0)
        expect(a.refused[0]!.code).toBe('Forbidden')
        await sleep(300)
        expect(asked).toBe(1)
      })
    }
  })
}
