import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { HttpHandler } from './http-handler.ts'
import type { ServerLimits, SyncServerOptions } from './options.ts'
import { OriginPolicy } from './origin.ts'
import { SyncService, type SyncServerStats } from './service.ts'
import { WsHandler } from './ws-handler.ts'

export interface SyncServer {
  /** `http://host:port` + basePath when listening (the long-poll URL), else ''. */
  readonly url: string
  /** `ws://host:port` + basePath when listening (the WebSocket URL), else ''. */
  readonly wsUrl: string
  /** The port listened on (useful with port 0), or 0. */
  readonly port: number
  readonly limits: ServerLimits
  readonly stats: SyncServerStats
  /** The long-poll routes as a request handler; returns false for a path it does not serve. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean
  /** The WebSocket endpoint as an `upgrade` handler; returns false for a path it does not serve. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean
  /** Deletes a store, as a server reset would: its clients get `BackendIdMismatch` on reconnect. */
  wipe(storeId: string): Promise<void>
  /** Closes connections, the listener (if any) and the storage. */
  close(): Promise<void>
}

/**
 * Starts a Cairn sync server: WebSocket and HTTP long-poll on one port, storage in SQLite (or memory).
 * Without `port` it listens nowhere: mount `handleRequest` / `handleUpgrade` in your own server.
 *
 * @example
 * const server = await createSyncServer({
 *   port: 8787,
 *   storage: sqliteStorage('./data/sync.db'),
 *   authorize: async ({ token, storeId }) => {
 *     const user = await verify(token)
 *     if (!user) return { refuse: 'Unauthorized' }
 *     return user.stores.includes(storeId) ? { principal: user.id } : { refuse: 'Forbidden' }
 *   },
 *   schema,
 * })
 * // clients: makeWsSync({ url: server.wsUrl, getAuthToken })
 *
 * @example
 * // inside an existing server
 * const sync = await createSyncServer({ storage: memoryStorage(), authorize, basePath: '/sync' })
 * http.on('request', (req, res) => sync.handleRequest(req, res) || app(req, res))
 * http.on('upgrade', (req, socket, head) => sync.handleUpgrade(req, socket, head) || socket.destroy())
 */
export async function createSyncServer<P>(options: SyncServerOptions<P>): Promise<SyncServer> {
  const basePath = (options.basePath ?? '').replace(/\/+$/, '')
  const service = new SyncService(options)
  const origins = new OriginPolicy(options.allowedOrigins)
  const ws = new WsHandler(service, origins)
  const http = new HttpHandler(service, basePath, origins)

  const handleRequest = (req: IncomingMessage, res: ServerResponse) => http.handleRequest(req, res)
  const handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const path = (req.url ?? '/').split('?')[0]!
    if (basePath !== '' && path !== basePath && !path.startsWith(`${basePath}/`)) return false
    ws.handleUpgrade(req, socket, head)
    return true
  }

  let listener: Server | undefined
  let port = 0
  const host = options.host ?? '127.0.0.1'
  if (options.port !== undefined) {
    const { headersTimeoutMs, requestTimeoutMs } = service.limits
    listener = createServer(
      {
        headersTimeout: headersTimeoutMs,
        requestTimeout: Math.max(requestTimeoutMs, headersTimeoutMs),
        // Node checks both timeouts only this often (30 s by default): a slowloris socket would outlive them
        connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(headersTimeoutMs / 4))),
      },
      (req, res) => {
        if (!handleRequest(req, res)) {
          res
            .writeHead(404, { 'Content-Type': 'application/json' })
            .end(JSON.stringify({ v: 1, type: 'error', code: 'Protocol', message: 'No such route.' }))
        }
      },
    )
    listener.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!handleUpgrade(req, socket, head)) socket.destroy()
    })
    // malformed requests and header/request timeouts (slowloris): counted, and the socket is cut
    listener.on('clientError', (_error, socket) => {
      service.stats.clientErrors++
      socket.destroy()
    })
    listener.keepAliveTimeout = 30_000
    const server = listener
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(options.port, host, () => resolve())
    })
    port = (listener.address() as AddressInfo).port
  }
  const authority = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`

  let closing: Promise<void> | undefined
  return {
    url: listener === undefined ? '' : `http://${authority}${basePath}`,
    wsUrl: listener === undefined ? '' : `ws://${authority}${basePath}`,
    port,
    limits: service.limits,
    stats: service.stats,
    handleRequest,
    handleUpgrade,
    wipe: (storeId) => service.wipe(storeId),
    close() {
      closing ??= (async () => {
        http.close()
        await ws.close()
        if (listener !== undefined) {
          listener.closeAllConnections()
          await new Promise<void>((resolve) => listener!.close(() => resolve()))
        }
        service.close()
        await service.storage.close()
      })()
      return closing
    },
  }
}
