import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createSyncServer, sqliteStorage, type SyncServer } from '@cairn/sync/server'
import { staticFiles } from './static-files.ts'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
export const DIST = join(REPO, 'playground/dist')

export interface PlaygroundOptions {
  readonly port: number
  readonly host?: string
  /** Folder of the sync server's SQLite file; created if missing. */
  readonly dataDir: string
  /** Build playground/dist first: always, never, or when its sources changed since the last build (default). */
  readonly build?: 'always' | 'never' | 'if-changed'
  readonly log?: (message: string) => void
}

export interface Playground {
  readonly url: string
  readonly sync: SyncServer
  close(): Promise<void>
}

/** What the build reads: a build newer than all of it is current. */
const BUILD_INPUTS = ['playground/src', 'playground/index.html', 'core/src', 'sync/src', 'adapters-ui/react/src', 'adapters-platform/web/src', 'vite.config.ts', 'package-lock.json']

function newestMtime(path: string): number {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  let newest = stat.mtimeMs
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)))
  return newest
}

/** True when playground/dist was built after the last change to anything the build reads. */
export function buildIsCurrent(): boolean {
  const index = join(DIST, 'index.html')
  if (!existsSync(index)) return false
  const built = statSync(index).mtimeMs
  return BUILD_INPUTS.every((input) => !existsSync(join(REPO, input)) || newestMtime(join(REPO, input)) < built)
}

/** Builds the playground with the repo's vite.config.ts. */
export async function buildPlayground(): Promise<void> {
  // Vite keeps a NODE_ENV it finds (vitest sets 'test'), and React would then ship its slow development build
  process.env.NODE_ENV = 'production'
  const { build } = await import('vite')
  await build({ configFile: join(REPO, 'vite.config.ts'), logLevel: 'warn' })
}

/**
 * One HTTP server for everything: the playground's files, and the sync server under `/sync`
 * (WebSocket upgrade and long-poll routes). The playground has no login: anyone who reaches the
 * port may read and write, which is why it listens on 127.0.0.1 unless told otherwise.
 */
export async function startPlayground(options: PlaygroundOptions): Promise<Playground> {
  const log = options.log ?? (() => {})
  const host = options.host ?? '127.0.0.1'
  const dataDir = resolve(options.dataDir)
  mkdirSync(dataDir, { recursive: true })
  const sync = await createSyncServer({
    storage: sqliteStorage(join(dataDir, 'sync.db')),
    authorize: () => ({ principal: 'playground' }),
    basePath: '/sync',
  })
  // the page's files once built; until then the page says it is coming
  let files: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined
  const server: Server = createServer((req, res) => {
    if (sync.handleRequest(req, res)) return
    if (files === undefined) {
      res.writeHead(503, { 'Content-Type': 'text/plain', 'Retry-After': '2' }).end('The playground is being built; reload in a few seconds.')
      return
    }
    files(req, res).catch((e: unknown) => {
      log(`could not serve ${req.url}: ${(e as Error).message}`)
      if (!res.headersSent) res.writeHead(500)
      res.end()
    })
  })
  server.on('upgrade', (req, socket, head) => {
    if (!sync.handleUpgrade(req, socket, head)) socket.destroy()
  })
  server.on('clientError', (_e, socket) => socket.destroy())
  const close = async () => {
    server.closeAllConnections()
    await sync.close()
    await new Promise<void>((r) => server.close(() => r()))
  }
  try {
    // the port first: a port in use fails at once, not after the build
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject)
      server.listen(options.port, host, () => resolveListen())
    })
  } catch (e) {
    await sync.close()
    throw e
  }
  try {
    const build = options.build ?? 'if-changed'
    if (build === 'always' || (build === 'if-changed' && !buildIsCurrent())) {
      const started = performance.now()
      await buildPlayground()
      log(`built the playground in ${Math.round(performance.now() - started)} ms`)
    } else if (build === 'if-changed') {
      log('the playground build is current (npm start -- --build rebuilds it anyway)')
    }
  } catch (e) {
    await close()
    throw e
  }
  files = staticFiles(DIST)
  const { port } = server.address() as AddressInfo
  const url = `http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host}:${port}/`
  log(`Cairn playground: ${url}   (sync server at ${url}sync, data in ${dataDir}; Ctrl+C stops)`)
  return { url, sync, close }
}
