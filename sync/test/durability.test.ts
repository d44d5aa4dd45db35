// sqliteStorage's durability rules with the WAL sync held back: nothing is acked or served before
// the fdatasync that covers it returned, commits during a sync share the next one, a failed sync
// is final. (storage.test.ts checks the append rules themselves.)
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { WireEvent } from '@cairn/core'
import { afterAll, describe, expect, it } from 'vitest'
import { sqliteStorage } from '../src/storage/sqlite.ts'

const dir = mkdtempSync(join(tmpdir(), 'cairn-durability-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0

const ev = (clientId: string, producerSeq: number): WireEvent => ({
  eventId: `${clientId}-${producerSeq}`,
  producerSeq,
  name: 'v1.Thing',
  args: { n: producerSeq },
  clientId,
  sessionId: 's1',
})

/** A sqliteStorage whose WAL syncs wait until `release()`; `syncs` counts them. */
function held(fail?: Error) {
  const waiting: (() => void)[] = []
  const counter = { syncs: 0 }
  const storage = sqliteStorage(join(dir, `d${++files}.db`), {
    syncWal: (_fd, callback) => {
      counter.syncs++
      waiting.push(() => callback(fail === undefined ? null : Object.assign(fail, { code: 'EIO' })))
    },
  })
  const release = () => {
    for (const w of waiting.splice(0)) w()
  }
  const settled = (p: Promise<unknown>) => {
    let done = false
    p.then(
      () => (done = true),
      () => (done = true),
    )
    return () => done
  }
  return { storage, release, counter, settled }
}

const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r))
}

describe('sqliteStorage durability', () => {
  it('acks an append and serves its events only after the WAL sync returned', async () => {
    const { storage, release, settled } = held()
    const created = storage.info('a') // a new store: its backendId is synced before it is told
    await turns()
    expect(settled(created)()).toBe(false)
    release()
    const { backendId } = await created

    const append = storage.append('a', [ev('c', 1), ev('c', 2)], 'p')
    const acked = settled(append)
    await turns()
    expect(acked()).toBe(false)
    // committed but not on disk: not served, not counted in the head
    expect(await storage.page('a', 0, 100)).toEqual({ events: [], head: 0, remaining: 0 })
    release()
    expect(await append).toMatchObject({ assigned: [1, 2], head: 2 })
    expect((await storage.page('a', 0, 100)).events.map((e) => e.seq)).toEqual([1, 2])
    expect(await storage.info('a')).toEqual({ backendId, head: 2 })
    await storage.close()
  })

  it('acks a re-sent event only once its first commit is on disk', async () => {
    const { storage, release, settled } = held()
    release()
    const first = storage.append('a', [ev('c', 1)], 'p')
    await turns()
    const again = storage.append('a', [ev('c', 1)], 'p') // a resend after a reconnect, same event
    await turns()
    expect(settled(again)()).toBe(false)
    release()
    await turns()
    release()
    expect(await first).toMatchObject({ assigned: [1] })
    expect(await again).toMatchObject({ assigned: [1], appended: 0 })
    await storage.close()
  })

  it('shares one sync between the commits made while the previous one ran', async () => {
    const { storage, release, counter } = held()
    await turns()
    release()
    const a = storage.append('a', [ev('c', 1)], 'p')
    await turns()
    expect(counter.syncs).toBe(1) // the first commit's sync is running (held)
    const later = [storage.append('a', [ev('d', 1)], 'p'), storage.append('b', [ev('e', 1)], 'p')]
    await turns()
    const d2 = storage.append('a', [ev('d', 2)], 'p') // another turn, still during the first sync
    await turns()
    expect(counter.syncs).toBe(1)
    release()
    await a
    await turns()
    expect(counter.syncs).toBe(2) // one more for the three commits that came during the first
    release()
    expect((await Promise.all([...later, d2])).map((r) => r.assigned)).toEqual([[2], [1], [3]])
    await storage.close()
  })

  it('refuses every append after a failed sync', async () => {
    const { storage, release } = held(new Error('I/O error'))
    const append = storage.append('a', [ev('c', 1)], 'p')
    await turns()
    release()
    await expect(append).rejects.toThrow(/fdatasync of the WAL failed/)
    await expect(storage.append('a', [ev('c', 1)], 'p')).rejects.toThrow(/fdatasync of the WAL failed/)
    await expect(storage.page('a', 0, 100)).rejects.toThrow(/fdatasync/)
    await storage.close()
  })

  it('starts with a WAL grown to its working size, so commits overwrite it instead of extending it', async () => {
    const path = join(dir, 'grown.db')
    const storage = sqliteStorage(path)
    const size = statSync(`${path}-wal`).size
    expect(size).toBeGreaterThan(4_000_000)
    for (let i = 1; i <= 300; i++) await storage.append('a', [ev('c', i)], 'p')
    expect(statSync(`${path}-wal`).size).toBe(size)
    expect((await storage.page('a', 250, 100)).events.map((e) => e.seq)).toEqual([...Array(50)].map((_, i) => 251 + i))
    await storage.close()
  })
})
