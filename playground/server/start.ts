import { mkdirSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
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
  /** Build playground/dist first (default true). */
  readonly build?: boolean
  readonly log?: (message: string) => void
}

export interface Playground {
  readonly url: string
  readonly sync: SyncServer
  close(): Promise<void>
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
  const started = performance.now()
  if (options.build ?? true) {
    await buildPlayground()
    log(`built the playground in ${Math.round(performance.now() - started)} ms`)
  }
  const dataDir = resolve(options.dataDir)
  mkdirSync(dataDir, { recursive: true })
  const sync = await createSyncServer({
    storage: sqliteStorage(join(dataDir, 'sync.db')),
    authorize: () => ({ principal: 'playground' }),
    basePath: '/sync',
  })
  const files = staticFiles(DIST)
  const server: Server = createServer((req, res) => {
    if (sync.handleRequest(req, res)) return
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
  try {
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject)
      server.listen(options.port, options.host ?? '127.0.0.1', () => resolveListen())
    })
  } catch (e) {
    await sync.close()
    throw e
  }
  const { port } = server.address() as AddressInfo
  const host = options.host ?? '127.0.0.1'
  const url = `http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host}:${port}/`
  log(`Cairn playground: ${url}   (sync server at ${url}sync, data in ${dataDir}; Ctrl+C stops)`)
  return {
    url,
    sync,
    async close() {
      server.closeAllConnections()
      await sync.close()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}
