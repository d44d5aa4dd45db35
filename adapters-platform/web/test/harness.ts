// The browser test harness: builds the test app with Vite (or serves it from Vite's dev server),
// serves it on localhost with a sync server mounted at /sync, and drives Debian's Chromium
// through playwright-core.
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import { createSyncServer, memoryStorage, type SyncServer } from '@cairn/sync/server'
import type { App } from './app/main.ts'

/** The test server refuses events whose text is 'refuse-me' (Invalid), so a test can see a refused event. */
const authorizePush = ({ events }: { readonly events: readonly { readonly args: unknown }[] }) => {
  const index = events.findIndex((e) => (e.args as { text?: unknown }).text === 'refuse-me')
  return index < 0 || { code: 'Invalid' as const, index, reason: 'refused by the test server' }
}

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const APP_DIR = fileURLToPath(new URL('./app/', import.meta.url))

/**
 * Whether the browser tests can run. Without Chromium they are skipped with a message, except
 * in CI (`CI=true`), where a missing browser fails the run.
 */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true
  const message = `Chromium not found at ${CHROMIUM} (install it: apt-get install -y chromium, or set CHROMIUM_PATH)`
  if (process.env.CI === 'true') throw new Error(`${message}; CI needs the browser tests.`)
  console.warn(`@cairn/adapter-web browser tests skipped: ${message}.`)
  return false
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
    ],
  })
}

export interface TestApp {
  readonly url: string
  readonly sync: SyncServer
  /** Refuses (false) or accepts sync connections; going down cuts the open ones. */
  setSyncUp(up: boolean): void
  /**
   * Cuts (false) or lets through sync connections of one browser profile (its `device` cookie,
   * see `deviceCookie`): that device is offline for the sync server, the others are not.
   */
  setDeviceOnline(device: string, online: boolean): void
  close(): Promise<void>
}

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
}

/** Builds the app (as `vite build` would) and serves the result with a sync server at /sync. */
export async function serveBuiltApp(): Promise<TestApp> {
  const { build } = await import('vite')
  const outDir = join(APP_DIR, 'dist')
  await build({ configFile: join(APP_DIR, 'vite.config.ts'), logLevel: 'error' })
  return serve(async (path) => {
    const file = normalize(join(outDir, path === '/' ? 'index.html' : path))
    if (!file.startsWith(outDir)) return undefined
    try {
      return { body: await readFile(file), type: TYPES[extname(file)] ?? 'application/octet-stream' }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'EISDIR') return undefined
      throw e
    }
  })
}

/** Serves the app from Vite's dev server (modules transformed on request) with a sync server. */
export async function serveDevApp(): Promise<TestApp> {
  const { createServer: createVite } = await import('vite')
  const sync = await createSyncServer({
    storage: memoryStorage(),
    authorize: () => ({ principal: 'test' }),
    authorizePush,
    basePath: '/sync',
  })
  const vite = await createVite({ configFile: join(APP_DIR, 'vite.config.ts'), logLevel: 'error', server: { port: 0, host: '127.0.0.1' } })
  await vite.listen()
  vite.httpServer!.on('upgrade', (req, socket, head) => {
    if ((req.url ?? '').startsWith('/sync')) sync.handleUpgrade(req, socket, head)
  })
  const { port } = vite.httpServer!.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/`,
    sync,
    setSyncUp() {
      throw new Error('not on the dev server')
    },
    setDeviceOnline() {
      throw new Error('not on the dev server')
    },
    async close() {
      await vite.close()
      await sync.close()
    },
  }
}

async function serve(lookup: (path: string) => Promise<{ body: Buffer; type: string } | undefined>): Promise<TestApp> {
  const sync = await createSyncServer({
    storage: memoryStorage(),
    authorize: () => ({ principal: 'test' }),
    authorizePush,
    basePath: '/sync',
  })
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!)
    lookup(path).then(
      (found) => {
        if (found === undefined) res.writeHead(404).end()
        else res.writeHead(200, { 'Content-Type': found.type, 'Cache-Control': 'no-store' }).end(found.body)
      },
      (e: unknown) => res.writeHead(500).end(String(e)),
    )
  })
  let up = true
  const offline = new Set<string>()
  const sockets = new Map<Duplex, string | undefined>()
  server.on('upgrade', (req, socket, head) => {
    const device = /(?:^|;\s*)device=([^;]+)/.exec(req.headers.cookie ?? '')?.[1]
    if (!up || (device !== undefined && offline.has(device)) || !sync.handleUpgrade(req, socket, head)) {
      socket.destroy()
      return
    }
    sockets.set(socket, device)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/`,
    sync,
    setSyncUp(value) {
      up = value
      if (!up) for (const socket of sockets.keys()) socket.destroy()
    },
    setDeviceOnline(device, online) {
      if (online) offline.delete(device)
      else {
        offline.add(device)
        for (const [socket, d] of sockets) if (d === device) socket.destroy()
      }
    },
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await sync.close()
    },
  }
}

/** Calls `window.app[method](...args)` in the page. */
export function call<K extends keyof App>(
  page: Page,
  method: K,
  ...args: App[K] extends (...a: infer A) => unknown ? A : never
): Promise<App[K] extends (...a: never[]) => infer R ? Awaited<R> : never> {
  return page.evaluate(
    ([m, a]) => {
      const app = (globalThis as unknown as { app: Record<string, (...x: unknown[]) => unknown> }).app
      return app[m as string]!(...(a as unknown[]))
    },
    [method, args] as const,
  ) as never
}

/** Opens the test page and waits for `window.app`. */
export async function openPage(page: Page, url: string): Promise<Page> {
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`))
  await page.goto(url)
  await page.waitForFunction(() => 'app' in globalThis)
  return page
}
