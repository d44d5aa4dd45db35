import type { Browser, BrowserContext } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, chromiumAvailable, launchChromium, openPage, serveBuiltApp, type TestApp } from './harness.ts'

const available = chromiumAvailable()

describe.skipIf(!available)('makePersistedAdapter (Chromium, built app)', () => {
  let app: TestApp
  let browser: Browser
  beforeAll(async () => {
    ;[app, browser] = await Promise.all([serveBuiltApp(), launchChromium()])
  }, 120_000)
  afterAll(async () => {
    await browser?.close()
    await app?.close()
  })

  const fresh = async (): Promise<BrowserContext> => browser.newContext()

  it('keeps rows, eventlog and client id across a reload', async () => {
    const context = await fresh()
    const page = await openPage(await context.newPage(), app.url)
    const first = await call(page, 'open')
    expect(first.storageMode).toBe('opfs')
    await call(page, 'commitPersisted', 'a', 'Buy milk')
    await call(page, 'commitPersisted', 'b', 'Walk')
    await page.reload()
    await page.waitForFunction(() => 'app' in globalThis)
    const again = await call(page, 'open')
    expect(again.clientId).toBe(first.clientId)
    expect(await call(page, 'rows')).toEqual([
      { id: 'a', text: 'Buy milk' },
      { id: 'b', text: 'Walk' },
    ])
    expect((await call(page, 'log')).map((e) => [e.id, e.status])).toEqual([
      ['a', 'confirmed'],
      ['b', 'confirmed'],
    ])
    await context.close()
  })
})
