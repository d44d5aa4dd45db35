import { describe, expect, it } from 'vitest'
import { PageCache } from '../src/server/page-cache.ts'
import { createSyncServer, memoryStorage } from '../src/server/index.ts'
import { event } from './raw-socket.ts'

describe('PageCache', () => {
  it('stays within its byte budget over many stores, dropping the least recently used first', async () => {
    const cache = new PageCache<{ bytes: number; id: string }>(10_000)
    let builds = 0
    const page = (id: string) => async () => (builds++, { bytes: 1_000, id })
    for (let i = 0; i < 5_000; i++) {
      await cache.get(`store-${i}`, 0, page(`store-${i}`))
      // store-0 is read all along: it stays
      await cache.get('store-0', 0, page('store-0'))
      expect(cache.bytes).toBeLessThanOrEqual(10_000)
    }
    expect(cache.storeCount).toBeLessThanOrEqual(10)
    const before = builds
    expect(await cache.get('store-0', 0, page('store-0'))).toMatchObject({ id: 'store-0' })
    expect(builds).toBe(before)
    await cache.get('store-1', 0, page('store-1'))
    expect(builds).toBe(before + 1)
  })

  it('forgets a failed build and a dropped store', async () => {
    const cache = new PageCache<{ bytes: number }>(10_000)
    await expect(cache.get('s', 0, () => Promise.reject(new Error('disk')))).rejects.toThrow('disk')
    expect(await cache.get('s', 0, async () => ({ bytes: 5 }))).toEqual({ bytes: 5 })
    expect(cache.bytes).toBe(5)
    cache.drop('s')
    expect([cache.bytes, cache.size]).toEqual([0, 0])
  })
})

describe('the server’s page cache', () => {
  it('stays bounded when many idle stores are read', async () => {
    const server = await createSyncServer({
      port: 0,
      storage: memoryStorage(),
      authorize: () => ({ principal: 'p' }),
      limits: { pageCacheBytes: 64 * 1024, pushesPerSecond: 10_000, pushBytesPerSecond: 64 * 1024 * 1024 },
    })
    try {
      const headers = { Authorization: 'Bearer t' }
      for (let i = 0; i < 300; i++) {
        const push = JSON.stringify({
          v: 1,
          type: 'push',
          reqId: 1,
          events: [event('c1', 1, { args: { id: 'x', text: 'y'.repeat(500) } })],
        })
        expect((await fetch(`${server.url}/stores/s${i}/push`, { method: 'POST', headers, body: push })).status).toBe(200)
        expect((await fetch(`${server.url}/stores/s${i}/pull?after=0`, { headers })).status).toBe(200)
      }
      expect(server.stats.cachedPageBytes).toBeGreaterThan(0)
      expect(server.stats.cachedPageBytes).toBeLessThanOrEqual(64 * 1024)
      expect(server.stats.cachedPages).toBeLessThan(300)
    } finally {
      await server.close()
    }
  })
})
