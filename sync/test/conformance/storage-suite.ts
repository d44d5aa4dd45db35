import { SyncError, type WireEvent } from '@cairn/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { SyncStorage } from '../../src/storage/types.ts'

/**
 * The storage conformance suite: the append rules every `SyncStorage` shares (numbers, dedupe,
 * refusals, pages, wipe), run by storage.test.ts (memory, SQLite) and postgres-storage.test.ts.
 */
export const ev = (clientId: string, producerSeq: number, eventId = `${clientId}-${producerSeq}`): WireEvent => ({
  eventId,
  producerSeq,
  name: 'v1.Thing',
  args: { n: producerSeq, nested: [1, { a: 'x' }] },
  clientId,
  sessionId: 's1',
})

async function refusal(p: Promise<unknown>): Promise<SyncError> {
  try {
    await p
  } catch (e) {
    if (e instanceof SyncError) return e
    throw e
  }
  throw new Error('expected a SyncError')
}

export function runStorageConformance(name: string, make: () => SyncStorage | Promise<SyncStorage>): void {
  describe(`storage conformance: ${name}`, () => {
    it('creates a store on first use with a backendId and head 0', async () => {
      const s = await make()
      const info = await s.info('a')
      expect(info.head).toBe(0)
      expect(info.backendId).toMatch(/\S{8,}/)
      expect((await s.info('a')).backendId).toBe(info.backendId)
      expect((await s.info('b')).backendId).not.toBe(info.backendId)
      await s.close()
    })

    it('appends gap-free numbers per store, stamps the principal, keeps stores apart', async () => {
      const s = await make()
      expect(await s.append('a', [ev('c1', 1), ev('c1', 2)], 'alice')).toEqual({ assigned: [1, 2], appended: 2, head: 2 })
      expect(await s.append('b', [ev('c1', 1)], 'bob')).toEqual({ assigned: [1], appended: 1, head: 1 })
      expect(await s.append('a', [ev('c2', 1)], undefined)).toEqual({ assigned: [3], appended: 1, head: 3 })
      const page = await s.page('a', 0, 100)
      expect(page.events.map((e) => [e.seq, e.clientId, e.producerSeq, e.principal])).toEqual([
        [1, 'c1', 1, 'alice'],
        [2, 'c1', 2, 'alice'],
        [3, 'c2', 1, undefined],
      ])
      expect(page.events[0]!.args).toEqual({ n: 1, nested: [1, { a: 'x' }] })
      expect((await s.page('b', 0, 100)).events.map((e) => e.principal)).toEqual(['bob'])
      await s.close()
    })

    it('dedupes a re-sent push by eventId/producerSeq, returning the earlier numbers', async () => {
      const s = await make()
      await s.append('a', [ev('c1', 1), ev('c1', 2)], undefined)
      await s.append('a', [ev('c2', 1)], undefined)
      expect(await s.append('a', [ev('c1', 2), ev('c1', 3)], undefined)).toEqual({ assigned: [2, 4], appended: 1, head: 4 })
      expect(await s.append('a', [ev('c1', 1), ev('c1', 2), ev('c1', 3)], undefined)).toEqual({ assigned: [1, 2, 4], appended: 0, head: 4 })
      await s.close()
    })

    it('refuses a producer gap with the expected producerSeq, and stores nothing of the push', async () => {
      const s = await make()
      await s.append('a', [ev('c1', 1)], undefined)
      const error = await refusal(s.append('a', [ev('c1', 2), ev('c1', 4)], undefined))
      expect([error.code, error.expected]).toEqual(['ProducerGap', 3])
      expect((await s.info('a')).head).toBe(1)
      expect((await refusal(s.append('a', [ev('c9', 2)], undefined))).expected).toBe(1)
      await s.close()
    })

    it('refuses the same producerSeq with another eventId as a ClientIdCollision', async () => {
      const s = await make()
      await s.append('a', [ev('c1', 1)], undefined)
      expect((await refusal(s.append('a', [ev('c1', 1, 'other')], undefined))).code).toBe('ClientIdCollision')
      expect((await refusal(s.append('a', [ev('c1', 2), ev('c1', 2, 'twin')], undefined))).code).toBe('ClientIdCollision')
      expect((await s.info('a')).head).toBe(1)
      await s.close()
    })

    it('appends concurrent pushes in arrival order, a refused one alone', async () => {
      const s = await make()
      const results = await Promise.allSettled([
        s.append('a', [ev('c1', 1)], undefined),
        s.append('a', [ev('c2', 2)], undefined), // a gap: refused
        s.append('a', [ev('c2', 1)], undefined),
        s.append('b', [ev('c1', 1)], undefined),
        s.append('a', [ev('c1', 2)], undefined),
      ])
      expect(results.map((r) => (r.status === 'fulfilled' ? r.value.assigned : (r.reason as SyncError).code))).toEqual([
        [1],
        'ProducerGap',
        [2],
        [1],
        [3],
      ])
      expect((await s.info('a')).head).toBe(3)
      await s.close()
    })

    it('cuts pages at fixed boundaries, with remaining', async () => {
      const s = await make()
      for (let i = 1; i <= 25; i++) await s.append('a', [ev('c1', i)], undefined)
      const p1 = await s.page('a', 0, 10)
      expect([p1.events.map((e) => e.seq), p1.head, p1.remaining]).toEqual([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 25, 15])
      const mid = await s.page('a', 7, 10)
      expect([mid.events.map((e) => e.seq), mid.remaining]).toEqual([[8, 9, 10], 15])
      const last = await s.page('a', 20, 10)
      expect([last.events.map((e) => e.seq), last.remaining]).toEqual([[21, 22, 23, 24, 25], 0])
      expect(await s.page('a', 25, 10)).toEqual({ events: [], head: 25, remaining: 0 })
      expect(await s.page('a', 40, 10)).toEqual({ events: [], head: 25, remaining: 0 })
      await s.close()
    })

    it('wipe empties a store and gives it a new backendId', async () => {
      const s = await make()
      await s.append('a', [ev('c1', 1)], undefined)
      const before = await s.info('a')
      await s.wipe('a')
      const after = await s.info('a')
      expect(after.head).toBe(0)
      expect(after.backendId).not.toBe(before.backendId)
      expect(await s.append('a', [ev('c1', 1)], undefined)).toMatchObject({ assigned: [1] })
      await s.close()
    })

    it('matches a model of the append rules for random pushes (property)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              client: fc.constantFrom('x', 'y'),
              from: fc.integer({ min: 1, max: 6 }),
              count: fc.integer({ min: 1, max: 3 }),
              twin: fc.boolean(),
            }),
            {
              maxLength: 25,
            },
          ),
          async (pushes) => {
            const s = await make()
            const ids = new Map<string, string>() // "client:producerSeq" -> eventId: the model
            let head = 0
            for (const p of pushes) {
              const events = Array.from({ length: p.count }, (_, i) =>
                ev(p.client, p.from + i, p.twin && i === 0 ? `${p.client}-twin` : undefined),
              )
              let expected: string | undefined
              const staged = new Map<string, string>()
              for (const e of events) {
                const key = `${e.clientId}:${e.producerSeq}`
                const known = ids.get(key) ?? staged.get(key)
                if (known !== undefined) {
                  if (known !== e.eventId) expected = 'ClientIdCollision'
                } else if (
                  e.producerSeq !== 1 &&
                  !ids.has(`${e.clientId}:${e.producerSeq - 1}`) &&
                  !staged.has(`${e.clientId}:${e.producerSeq - 1}`)
                )
                  expected = 'ProducerGap'
                else staged.set(key, e.eventId)
                if (expected !== undefined) break
              }
              try {
                const result = await s.append('st', events, undefined)
                expect(expected).toBeUndefined()
                expect(result.head).toBe(head + staged.size)
                head = result.head
                for (const [k, v] of staged) ids.set(k, v)
              } catch (e) {
                expect(e).toBeInstanceOf(SyncError)
                expect((e as SyncError).code).toBe(expected)
              }
              const page = await s.page('st', 0, 1000)
              expect(page.events.map((e) => e.seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1))
            }
            await s.close()
          },
        ),
        { numRuns: 30 },
      )
    })
  })
}
