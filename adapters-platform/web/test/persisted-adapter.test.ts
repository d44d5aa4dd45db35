import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, chromiumAvailable, launchChromium, openPage, serveBuiltApp, type TestApp } from './harness.ts'

const available = chromiumAvailable()

describe.skipIf(!available)('makePersistedAdapter (Chromium, built app)', () => {
  let app: TestApp
  let browser: Browser
  const contexts: BrowserContext[] = []
  beforeAll(async () => {
    ;[app, browser] = await Promise.all([serveBuiltApp(), launchChromium()])
  }, 120_000)
  afterAll(async () => {
    await browser?.close()
    await app?.close()
  })

  /** A new browser profile: its own OPFS, IndexedDB, locks and channels. */
  const profile = async (device?: string): Promise<BrowserContext> => {
    const context = await browser.newContext()
    // the sync server tells devices apart by this cookie (see setDeviceOnline)
    if (device !== undefined) await context.addCookies([{ name: 'device', value: device, url: app.url }])
    contexts.push(context)
    return context
  }
  const tab = async (context: BrowserContext): Promise<Page> => openPage(await context.newPage(), app.url)
  const reload = async (page: Page) => {
    await page.reload()
    await page.waitForFunction(() => 'app' in globalThis)
  }
  const until = async (check: () => Promise<boolean>, what: string, timeoutMs = 15_000) => {
    const end = Date.now() + timeoutMs
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 25))
    }
  }

  describe('persistence', () => {
    it('keeps rows, eventlog and client id across a reload, in OPFS', async () => {
      const page = await tab(await profile())
      const first = await call(page, 'open')
      expect(first.storageMode).toBe('opfs')
      await call(page, 'commitPersisted', 'a', 'Buy milk')
      await call(page, 'commitPersisted', 'b', 'Walk')
      await reload(page)
      const again = await call(page, 'open')
      expect(again.clientId).toBe(first.clientId)
      expect(await page.evaluate(() => (globalThis as unknown as { app: { bootStatus: string[] } }).app.bootStatus)).toEqual([
        'loading',
        'done',
      ])
      expect(await call(page, 'rows')).toEqual([
        { id: 'a', text: 'Buy milk' },
        { id: 'b', text: 'Walk' },
      ])
      expect((await call(page, 'log')).map((e) => [e.id, e.status])).toEqual([
        ['a', 'confirmed'],
        ['b', 'confirmed'],
      ])
    })

    it('keeps pending events across a reload and pushes them once the server is reachable', async () => {
      const page = await tab(await profile())
      app.setSyncUp(false)
      try {
        await call(page, 'open', { storeId: 'pending', sync: true })
        await call(page, 'commitPersisted', 'p1')
        await call(page, 'commitPersisted', 'p2')
        await reload(page)
        await call(page, 'open', { storeId: 'pending', sync: true })
        expect((await call(page, 'rows')).map((r) => r.id)).toEqual(['p1', 'p2'])
        expect((await call(page, 'log')).map((e) => [e.id, e.status])).toEqual([
          ['p1', 'pending'],
          ['p2', 'pending'],
        ])
        expect((await call(page, 'status')).pending).toBe(2)
      } finally {
        app.setSyncUp(true)
      }
      await until(async () => (await call(page, 'status')).pending === 0, 'the pending events to be confirmed')
      expect((await call(page, 'log')).map((e) => [e.id, e.status])).toEqual([
        ['p1', 'confirmed'],
        ['p2', 'confirmed'],
      ])
    })

    it('drops an event the sync server refused: its effects roll back, the events after it are pushed', async () => {
      const page = await tab(await profile())
      await call(page, 'open', { storeId: 'refused', sync: true })
      await call(page, 'commitPersisted', 'g1')
      await call(page, 'commitPersisted', 'bad', 'refuse-me')
      await call(page, 'commitPersisted', 'g2')
      await until(async () => (await call(page, 'status')).error?.code === 'Invalid', 'the refusal to show')
      expect((await call(page, 'rows')).map((r) => r.id)).toEqual(['bad', 'g1', 'g2'])
      expect(await call(page, 'dropRefused')).toBe('v1.TodoCreated: refused by the test server')
      expect((await call(page, 'rows')).map((r) => r.id)).toEqual(['g1', 'g2'])
      await until(async () => (await call(page, 'status')).pending === 0, 'g2 to be synced')
      expect((await call(page, 'log')).map((e) => [e.id, e.status])).toEqual([
        ['g1', 'confirmed'],
        ['g2', 'confirmed'],
      ])
      expect((await call(page, 'status')).error).toBeNull()
    })

    it("clears the OPFS file on onBackendIdMismatch: 'reset' (a wiped server): the store starts over empty", async () => {
      const context = await profile()
      const page = await tab(context)
      await call(page, 'open', { storeId: 'wiped', sync: 'reset' })
      await call(page, 'commitPersisted', 'old')
      await until(async () => (await call(page, 'status')).pending === 0, 'the commit to be synced')
      await app.sync.wipe('wiped')
      await until(async () => /was cleared \(onBackendIdMismatch: 'reset'\)/.test((await call(page, 'shutdownCause')) ?? ''), 'the reset')
      const again = await tab(context)
      await call(again, 'open', { storeId: 'wiped' })
      expect(await call(again, 'rows')).toEqual([])
      expect(await call(again, 'log')).toEqual([])
    })

    it('refuses a file written by an incompatible version, naming it, until resetPersistence', async () => {
      const page = await tab(await profile())
      await call(page, 'open', { storeId: 'old' })
      await call(page, 'commitPersisted', 'x')
      await call(page, 'shutdown')
      expect(await call(page, 'tamper', 'old', 99)).toBe('ok')
      const refused = await call(page, 'openError', { storeId: 'old' })
      expect(refused).toMatch(
        /^IncompatibleStorage: The OPFS file of store "old" \(\.cairn-old\/cairn\.db\) cannot be read by this version: .*storage format 99/,
      )
      expect(refused).toMatch(/resetPersistence/)
      expect(await call(page, 'reset', 'old')).toBe('ok')
      await call(page, 'open', { storeId: 'old' })
      expect(await call(page, 'rows')).toEqual([])
    })

    it('resetPersistence refuses while a tab has the store open', async () => {
      const context = await profile()
      const a = await tab(context)
      await call(a, 'open', { storeId: 'busy' })
      const b = await tab(context)
      expect(await call(b, 'reset', 'busy')).toMatch(/^StoreInUse: resetPersistence: store "busy" is open/)
    })

    it('keeps memory, says so and warns where OPFS is unavailable', async () => {
      const context = await profile()
      await context.addInitScript(() => {
        delete (StorageManager.prototype as { getDirectory?: unknown }).getDirectory
      })
      const page = await tab(context)
      const opened = await call(page, 'open', { storeId: 'no-opfs' })
      expect(opened.storageMode).toBe('in-memory')
      const warnings = await page.evaluate(() => (globalThis as unknown as { app: { warnings: string[] } }).app.warnings)
      expect(warnings.some((w) => /OPFS is unavailable here .* keeps its data in memory .*storageMode 'in-memory'/.test(w))).toBe(true)
      await call(page, 'commitPersisted', 'm')
      expect((await call(page, 'rows')).map((r) => r.id)).toEqual(['m'])
    })

    it('reports a write the browser refuses (quota) as a clear error and confirms nothing of it', async () => {
      const context = await profile()
      const page = await tab(context)
      await call(page, 'open', { storeId: 'quota' })
      await call(page, 'commitPersisted', 'small')
      const cdp = await context.newCDPSession(page)
      const origin = new URL(app.url).origin
      const usage = await page.evaluate(async () => (await navigator.storage.estimate()).usage ?? 0)
      await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: usage + 64 * 1024 })
      const big = 'x'.repeat(2 * 1024 * 1024)
      const failed = await page.evaluate(async (text) => {
        const app = (globalThis as unknown as { app: { commitPersisted(id: string, text: string): Promise<void> } }).app
        try {
          await app.commitPersisted('big', text)
          return 'persisted'
        } catch (e) {
          return (e as Error).message
        }
      }, big)
      expect(failed).toMatch(/could not write to OPFS file .*cairn\.db/)
      expect(failed).toMatch(/quota/)
      await cdp.send('Storage.overrideQuotaForOrigin', { origin })
      await call(page, 'commitPersisted', 'after')
      expect((await call(page, 'log')).map((e) => e.id)).toEqual(['small', 'after'])
      await reload(page)
      await call(page, 'open', { storeId: 'quota' })
      expect((await call(page, 'rows')).map((r) => r.id)).toEqual(['after', 'small'])
    })
  })

  describe('tabs', () => {
    it('shows a commit of any of three tabs in the others, through one leader', async () => {
      const context = await profile()
      const tabs: Page[] = []
      for (let i = 0; i < 3; i++) {
        const page = await tab(context)
        await call(page, 'open', { storeId: 'tabs' })
        tabs.push(page)
      }
      expect(await Promise.all(tabs.map((p) => call(p, 'isLeader')))).toEqual([true, false, false])
      const latencies: number[] = []
      const persisted: number[] = []
      for (let round = 0; round < 5; round++) {
        for (const [i, from] of tabs.entries()) {
          const id = `r${round}t${i}`
          const at = await call(from, 'commit', id)
          for (const to of tabs) if (to !== from) latencies.push((await call(to, 'seenAt', id)) - at)
          persisted.push((await call(from, 'seenAt', `persisted:${id}`)) - at)
        }
      }
      const rows = await Promise.all(tabs.map((p) => call(p, 'rows')))
      expect(rows[0]).toHaveLength(15)
      expect(rows[1]).toEqual(rows[0])
      expect(rows[2]).toEqual(rows[0])
      // a client-only change (a client document) shows in the other tabs of the profile too
      await call(tabs[1]!, 'setFilter', 'done')
      for (const page of [tabs[0]!, tabs[2]!])
        await page.waitForFunction(() => (globalThis as unknown as { app: { filter(): string } }).app.filter() === 'done')
      latencies.sort((a, b) => a - b)
      persisted.sort((a, b) => a - b)
      console.log(`commit -> persisted: p50 ${persisted[persisted.length >> 1]!.toFixed(1)} ms`)
      console.log(
        `cross-tab delivery (3 tabs, ${latencies.length} deliveries): p50 ${latencies[latencies.length >> 1]!.toFixed(1)} ms, max ${latencies[latencies.length - 1]!.toFixed(1)} ms`,
      )
    })

    it('shows a commit in the other tab while the sync server is unreachable, and converges without duplicates once it is back', async () => {
      const context = await profile()
      const [a, b] = [await tab(context), await tab(context)]
      app.setSyncUp(false)
      try {
        await call(a, 'open', { storeId: 'offline-tabs', sync: true })
        await call(b, 'open', { storeId: 'offline-tabs', sync: true })
        const at = await call(a, 'commit', 'a1')
        const seen = await call(b, 'seenAt', 'a1')
        console.log(`cross-tab delivery with the server unreachable: ${(seen - at).toFixed(1)} ms`)
        await call(b, 'commit', 'b1')
        await call(a, 'commit', 'a2')
        await call(a, 'seenAt', 'b1')
        await call(b, 'seenAt', 'a2')
        expect((await call(b, 'rows')).map((r) => r.id)).toEqual(['a1', 'a2', 'b1'])
        expect(await call(a, 'rows')).toEqual(await call(b, 'rows'))
        expect((await call(a, 'status')).pending).toBe(3)
        expect((await call(a, 'log')).map((e) => e.status)).toEqual(['pending', 'pending', 'pending'])
      } finally {
        app.setSyncUp(true)
      }
      for (const page of [a, b]) await until(async () => (await call(page, 'status')).pending === 0, 'the events to be confirmed')
      const log = await call(b, 'log')
      expect(log.map((e) => e.status)).toEqual(['confirmed', 'confirmed', 'confirmed'])
      expect(new Set(log.map((e) => e.id))).toEqual(new Set(['a1', 'b1', 'a2']))
      // each once on the server: e1..e3
      expect(log.map((e) => e.seq.global).sort()).toEqual([1, 2, 3])
      expect((await call(a, 'status')).serverHead).toBe('e3')
      expect((await call(a, 'rows')).map((r) => r.id)).toEqual(['a1', 'a2', 'b1'])
      expect(await call(b, 'rows')).toEqual(await call(a, 'rows'))
      const errors = (page: Page) => page.evaluate(() => (globalThis as unknown as { app: { errors: string[] } }).app.errors)
      expect([await errors(a), await errors(b)]).toEqual([[], []])
    })

    it('hands over when the leader tab closes right after a commit: nothing lost, nothing twice, synced', async () => {
      const context = await profile()
      const leader = await tab(context)
      await call(leader, 'open', { storeId: 'handover', sync: true })
      const follower = await tab(context)
      await call(follower, 'open', { storeId: 'handover', sync: true })
      await call(leader, 'commitPersisted', 'l1')
      expect(await call(follower, 'isLeader')).toBe(false)
      // the follower's commit is on its way to the leader when the leader's tab goes
      await call(follower, 'commit', 'f1')
      await leader.close()
      await call(follower, 'seenAt', 'persisted:f1')
      await until(async () => call(follower, 'isLeader'), 'the follower to lead')
      await until(async () => (await call(follower, 'status')).pending === 0, 'f1 to be synced')
      const log = await call(follower, 'log')
      expect(log.map((e) => [e.id, e.status])).toEqual([
        ['l1', 'confirmed'],
        ['f1', 'confirmed'],
      ])
      expect(new Set(log.map((e) => e.seq.global)).size).toBe(2)
      expect((await call(follower, 'status')).serverHead).toBe('e2')
      // a tab opened now boots from the new leader
      const late = await tab(context)
      await call(late, 'open', { storeId: 'handover', sync: true })
      expect((await call(late, 'rows')).map((r) => r.id)).toEqual(['f1', 'l1'])
    })

    it('keeps a leader tab commit that was persisted just before the tab closed', async () => {
      const context = await profile()
      const leader = await tab(context)
      await call(leader, 'open', { storeId: 'handover2' })
      const follower = await tab(context)
      await call(follower, 'open', { storeId: 'handover2' })
      await call(leader, 'commitPersisted', 'last')
      await leader.close()
      await call(follower, 'seenAt', 'last')
      await call(follower, 'commitPersisted', 'next')
      expect((await call(follower, 'log')).map((e) => [e.id, e.status])).toEqual([
        ['last', 'confirmed'],
        ['next', 'confirmed'],
      ])
    })
  })

  describe('localName and makeWorker(factory)', () => {
    it('keeps local copies of one store id apart in one page: own file, client id and rows, across a reload', async () => {
      const page = await tab(await profile())
      const a = await call(page, 'openLocal', 'A')
      const b = await call(page, 'openLocal', 'B')
      expect(a).toMatchObject({ storageMode: 'opfs' })
      expect(b).toMatchObject({ storageMode: 'opfs' })
      expect('clientId' in a && 'clientId' in b && a.clientId !== b.clientId).toBe(true)
      await call(page, 'commitLocal', 'A', 'on-a')
      await call(page, 'commitLocal', 'B', 'on-b')
      // no sync here: each copy holds only its own commit
      expect(await call(page, 'rowsLocal', 'A')).toEqual(['on-a'])
      expect(await call(page, 'rowsLocal', 'B')).toEqual(['on-b'])
      expect(await call(page, 'opfsDirectories')).toEqual(expect.arrayContaining(['.cairn-shared_40_A', '.cairn-shared_40_B']))
      await reload(page)
      const again = await call(page, 'openLocal', 'B')
      expect(again).toEqual(b)
      expect(await call(page, 'rowsLocal', 'B')).toEqual(['on-b'])
      await call(page, 'openLocal', 'A')
      expect(await call(page, 'rowsLocal', 'A')).toEqual(['on-a'])
      // resetting one copy leaves the other
      expect(await call(page, 'resetLocal', 'shared', 'A')).toMatch(/^StoreInUse: .*"shared@A"/)
      await call(page, 'shutdownLocal', 'A')
      expect(await call(page, 'resetLocal', 'shared', 'A')).toBe('ok')
      await call(page, 'openLocal', 'A')
      expect(await call(page, 'rowsLocal', 'A')).toEqual([])
      expect(await call(page, 'rowsLocal', 'B')).toEqual(['on-b'])
    })

    it("reports the factory's failure as the open's error", async () => {
      const page = await tab(await profile())
      expect(await call(page, 'openLocal', 'X', { schemaName: 'nope' })).toEqual({
        error: expect.stringContaining('no schema named "nope" in this worker'),
      })
    })
  })

  describe('rematerialize', () => {
    it('rebuilds from a tab that does not lead: every tab sees the progress and reloads, the log stays', async () => {
      const context = await profile()
      const leader = await tab(context)
      await call(leader, 'open', { storeId: 'rebuild' })
      const other = await tab(context)
      await call(other, 'open', { storeId: 'rebuild' })
      await call(leader, 'commitPersisted', 'a')
      await call(other, 'commitPersisted', 'b')
      const log = await call(other, 'log')
      const stages = (page: Page) => page.evaluate(() => (globalThis as unknown as { app: { bootStatus: string[] } }).app.bootStatus)
      await call(other, 'rematerialize')
      // the leader's worker reports the rebuild to every tab; each tab's session reloads and says done
      // (a new store's first boot creates its tables by a rebuild of 0 events, so it says rehydrating too)
      await until(async () => (await stages(leader)).join().endsWith('done,rehydrating,rehydrating,done'), 'the leader tab to reload')
      await until(async () => (await stages(other)).join().endsWith('done'), 'the other tab to reload')
      const seen = await stages(other)
      expect(seen.slice(0, 2)).toEqual(['loading', 'done'])
      expect(seen.slice(2)).toContain('rehydrating')
      expect(await call(other, 'log')).toEqual(log)
      await call(other, 'commitPersisted', 'c')
      await call(leader, 'seenAt', 'c')
      expect((await call(leader, 'rows')).map((r) => r.id)).toEqual(['a', 'b', 'c'])
    })
  })

  describe('shutdown', () => {
    it('hands the leader over when the leading store shuts down while another tab keeps it open', async () => {
      const context = await profile()
      const leader = await tab(context)
      await call(leader, 'open', { storeId: 'resign' })
      const follower = await tab(context)
      await call(follower, 'open', { storeId: 'resign' })
      await call(leader, 'commitPersisted', 'before')
      await call(leader, 'shutdown')
      await call(follower, 'commitPersisted', 'after')
      expect(await call(follower, 'isLeader')).toBe(true)
      await call(leader, 'open', { storeId: 'resign' })
      expect(await call(leader, 'isLeader')).toBe(false)
      expect((await call(leader, 'rows')).map((r) => r.id)).toEqual(['after', 'before'])
    })
  })

  describe('sync', () => {
    it('converges two browser profiles through the sync server, one of them offline for a while', async () => {
      const [ctxA, ctxB] = [await profile('A'), await profile('B')]
      const a = await tab(ctxA)
      const b = await tab(ctxB)
      await call(a, 'open', { storeId: 'devices', sync: true })
      await call(b, 'open', { storeId: 'devices', sync: true })
      await call(a, 'commit', 'a1')
      await call(b, 'commit', 'b1')
      await call(a, 'seenAt', 'b1')
      await call(b, 'seenAt', 'a1')
      // the browser's offline emulation does not reach a worker's open WebSocket: the server cuts it
      await ctxB.setOffline(true)
      app.setDeviceOnline('B', false)
      await until(async () => !(await call(b, 'status')).connected, 'B to notice it is offline')
      await call(a, 'commit', 'a2')
      await call(b, 'commit', 'b2')
      await call(a, 'commit', 'a3')
      expect((await call(b, 'rows')).map((r) => r.id)).toEqual(['a1', 'b1', 'b2'])
      expect((await call(b, 'status')).pending).toBe(1)
      await ctxB.setOffline(false)
      app.setDeviceOnline('B', true)
      await call(b, 'seenAt', 'a3')
      await call(a, 'seenAt', 'b2')
      await until(async () => (await call(b, 'status')).pending === 0, 'B to push')
      const rowsA = await call(a, 'rows')
      expect(rowsA.map((r) => r.id)).toEqual(['a1', 'a2', 'a3', 'b1', 'b2'])
      expect(await call(b, 'rows')).toEqual(rowsA)
    })
  })
})
