import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, chromiumAvailable, launchChromium, openPage, serveDevApp, type TestApp } from './harness.ts'

const available = chromiumAvailable()

// The same app served by Vite's dev server: modules transformed on request, the worker as a module worker.
describe.skipIf(!available)('makePersistedAdapter under the Vite dev server (Chromium)', () => {
  let app: TestApp
  let browser: Browser
  beforeAll(async () => {
    ;[app, browser] = await Promise.all([serveDevApp(), launchChromium()])
  }, 120_000)
  afterAll(async () => {
    await browser?.close()
    await app?.close()
  })

  it('persists in OPFS and shares the leader between two tabs', async () => {
    const context = await browser.newContext()
    const a = await openPage(await context.newPage(), app.url)
    expect((await call(a, 'open', { storeId: 'dev' })).storageMode).toBe('opfs')
    const b = await openPage(await context.newPage(), app.url)
    await call(b, 'open', { storeId: 'dev' })
    await call(a, 'commitPersisted', 'x')
    await call(b, 'seenAt', 'x')
    await a.reload()
    await a.waitForFunction(() => 'app' in globalThis)
    await call(a, 'open', { storeId: 'dev' })
    expect((await call(a, 'rows')).map((r) => r.id)).toEqual(['x'])
    await context.close()
  })
})
