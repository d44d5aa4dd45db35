import { SyncError, type SyncBackend, type SyncConnection, type SyncConnectParams, type SyncHandlers, type WireEvent } from '@cairn/core'
import { decodeServerMessage, toSyncError, type ServerMessage } from '../protocol.ts'
import { BaseConnection, fetchAuthToken, type BackoffOptions, type GetAuthToken } from './base-connection.ts'
import { assertSyncableStoreId, checkTransportOptions } from './check-options.ts'
import { HttpConnection, type HttpSyncOptions } from './http-client.ts'

/** The part of the WebSocket API the client uses: the browser's `WebSocket` and the `ws` package both fit. */
export interface WebSocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  // `any` events: the DOM's and `ws`'s event classes differ, only these fields are read
  onopen: ((event: any) => void) | null
  onmessage: ((event: any) => void) | null
  onclose: ((event: any) => void) | null
  onerror: ((event: any) => void) | null
}

// `any` args: the `ws` class has overloads (address: null for a server-side socket) that a narrower type rejects
export type WebSocketConstructor = new (...args: any[]) => WebSocketLike

export interface WsSyncOptions {
  /** The server's WebSocket URL, e.g. `wss://sync.example.com` (`server.wsUrl`). */
  readonly url: string
  /** Called before every connect; the token goes in the `hello` message, never in the URL. */
  readonly getAuthToken: GetAuthToken
  /** The WebSocket class: Node 20 has no global one, pass `WebSocket` from the `ws` package. */
  readonly WebSocket?: WebSocketConstructor
  /**
   * Falls back to HTTP long-poll when the socket cannot open (twice in a row): `true` derives the
   * URL (`ws:` → `http:`), or pass the long-poll options.
   */
  readonly fallback?: boolean | Omit<HttpSyncOptions, 'getAuthToken'>
  readonly backoff?: BackoffOptions
  /** Default 10 s: a ping this often… */
  readonly pingIntervalMs?: number
  /** …and a connection without a pong this long after a ping is dead. Default 10 s. Also bounds the wait for `welcome`. */
  readonly pongTimeoutMs?: number
}

/**
 * A `SyncBackend` over WebSocket (wire v1). Reconnects forever with full-jitter backoff, fetches a
 * fresh token and resumes from the persisted cursor at every connect, pings every 10 s.
 *
 * @example
 * import WebSocket from 'ws' // Node; in browsers omit it
 * const store = await createStorePromise({
 *   schema, adapter, storeId: 'todos',
 *   sync: { backend: makeWsSync({ url: 'ws://localhost:8787', getAuthToken: () => session.token, WebSocket }) },
 * })
 */
export function makeWsSync(options: WsSyncOptions): SyncBackend {
  checkTransportOptions('makeWsSync', options, ['ws:', 'wss:'])
  const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (Ctor === undefined) {
    throw new SyncError(
      'Protocol',
      'No WebSocket implementation: Node 20 has none built in. Pass `WebSocket` from the `ws` package: makeWsSync({ url, getAuthToken, WebSocket }).',
    )
  }
  return {
    name: `ws ${options.url}`,
    connect(params, handlers) {
      assertSyncableStoreId(params.storeId)
      const connection = new WsConnection(params, handlers, options, Ctor)
      connection.start()
      return connection
    },
  }
}

const OPEN = 1

/** The `ws` package's extras over the browser API (feature-detected: absent in browsers). */
interface NodeWebSocket {
  on?: (event: string, listener: (...args: any[]) => void) => void
  removeAllListeners?: (event: string) => void
  terminate?: () => void
}

class WsConnection extends BaseConnection {
  private socket: WebSocketLike | undefined
  private pingTimer: ReturnType<typeof setInterval> | undefined
  private welcomeTimer: ReturnType<typeof setTimeout> | undefined
  private pingSentAt: number | undefined
  /** Connects in a row whose socket never opened: after 2, fall back to long-poll (if allowed). */
  private failedOpens = 0
  private fallback: HttpConnection | undefined

  constructor(
    params: SyncConnectParams,
    handlers: SyncHandlers,
    private readonly options: WsSyncOptions,
    private readonly Ctor: WebSocketConstructor,
  ) {
    super(params, handlers, options.backoff)
  }

  override get connected(): boolean {
    return this.fallback?.connected ?? super.connected
  }

  protected async connectOnce(generation: number): Promise<void> {
    if (this.fallback !== undefined) return
    const token = await fetchAuthToken(this.options.getAuthToken)
    if (generation !== this.generation) return
    const socket = new this.Ctor(this.options.url)
    this.socket = socket
    let opened = false
    const pongTimeout = this.options.pongTimeoutMs ?? 10_000
    socket.onopen = () => {
      opened = true
      this.failedOpens = 0
      this.guard(generation, () =>
        socket.send(
          JSON.stringify({
            v: 1,
            type: 'hello',
            storeId: this.params.storeId,
            clientId: this.params.clientId(),
            sessionId: this.params.sessionId,
            backendId: this.params.backendId(),
            cursor: this.params.cursor(),
            ...(token == null ? {} : { token }),
            ...(this.params.syncPayload === undefined ? {} : { syncPayload: this.params.syncPayload }),
          }),
        ),
      )
    }
    const node = socket as unknown as NodeWebSocket
    if (typeof node.on === 'function') {
      // the `ws` package: its `onmessage` wraps every frame in a MessageEvent; the plain listener gets the bytes
      node.on('message', (data: Buffer) => this.guard(generation, () => this.onMessage(generation, data.toString())))
    } else {
      socket.onmessage = (event: { data: unknown }) =>
        this.guard(generation, () => this.onMessage(generation, typeof event.data === 'string' ? event.data : String(event.data)))
    }
    socket.onerror = () => {} // a close event follows
    socket.onclose = (event: { code: number; reason: string }) => {
      if (!opened) this.failedOpens++
      if (!opened && this.failedOpens >= 2 && this.options.fallback && generation === this.generation) return this.switchToLongPoll()
      this.fail(generation, closeError(event.code, event.reason))
    }
    // the `ws` package reports a refused upgrade (429 when the server is full) with its response
    node.on?.(
      'unexpected-response',
      (request: { destroy(): void }, response: { statusCode?: number; headers: Record<string, string | undefined> }) => {
        request.destroy()
        const retry = Number(response.headers['retry-after'])
        const error =
          response.statusCode === 429
            ? new SyncError('RateLimited', 'The sync server is full.', { retryAfterMs: Number.isFinite(retry) ? retry * 1000 : 1000 })
            : new SyncError('Disconnected', `The sync server refused the WebSocket upgrade (HTTP ${response.statusCode}).`)
        this.fail(generation, error)
      },
    )
    this.welcomeTimer = setTimeout(
      () => this.fail(generation, new SyncError('Timeout', `No welcome from the sync server within ${pongTimeout} ms.`)),
      pongTimeout,
    )
  }

  private onMessage(generation: number, text: string): void {
    if (generation !== this.generation) return
    const decoded = decodeServerMessage(text)
    if (!decoded.ok) {
      this.fail(generation, new SyncError('Protocol', `The sync server sent a bad frame: ${decoded.error.reason}.`))
      return
    }
    const m: ServerMessage = decoded.message
    switch (m.type) {
      case 'welcome':
        clearTimeout(this.welcomeTimer)
        this.welcomed(generation, { backendId: m.backendId, head: m.head, limits: m.limits })
        if (generation !== this.generation || this.state !== 'open') return
        this.socket?.send(JSON.stringify({ v: 1, type: 'pull', after: this.params.cursor(), live: true }))
        this.startPing(generation)
        return
      case 'events':
        return this.handlers.onPage({ events: m.batch, head: m.head, remaining: m.remaining })
      case 'upToDate':
        return this.handlers.onPage({ events: [], head: m.head, remaining: 0 })
      case 'pushAck':
        return this.settle(generation, m.reqId, { ack: { assigned: m.assigned } })
      case 'pushError':
        return this.settle(generation, m.reqId, { error: toSyncError(m) })
      case 'error':
        // before welcome: the hello was refused; after it: a frame of ours was refused (a bug): reconnect
        return this.fail(generation, toSyncError(m))
      case 'ping':
        return this.socket?.send('{"v":1,"type":"pong"}')
      case 'pong':
        this.pingSentAt = undefined
        return
    }
  }

  /** Runs a socket callback: what it throws fails the connection (shown, then reconnected), never escapes. */
  private guard(generation: number, fn: () => void): void {
    try {
      fn()
    } catch (e) {
      this.fail(generation, e)
    }
  }

  private startPing(generation: number): void {
    const interval = this.options.pingIntervalMs ?? 10_000
    const timeout = this.options.pongTimeoutMs ?? 10_000
    this.pingSentAt = undefined
    clearInterval(this.pingTimer)
    this.pingTimer = setInterval(
      () => {
        if (generation !== this.generation) return
        const now = performance.now()
        if (this.pingSentAt !== undefined) {
          if (now - this.pingSentAt >= timeout)
            this.fail(generation, new SyncError('Timeout', `No pong from the sync server within ${timeout} ms: the connection is dead.`))
          return
        }
        this.pingSentAt = now
        this.socket?.send('{"v":1,"type":"ping"}')
      },
      Math.min(interval, timeout),
    )
  }

  protected sendPush(generation: number, reqId: number, events: readonly WireEvent[]): void {
    if (this.socket?.readyState !== OPEN) return this.fail(generation, new SyncError('Disconnected', 'The socket closed.'))
    this.socket.send(JSON.stringify({ v: 1, type: 'push', reqId, events }))
  }

  protected teardown(): void {
    clearInterval(this.pingTimer)
    clearTimeout(this.welcomeTimer)
    const socket = this.socket
    this.socket = undefined
    if (socket === undefined) return
    socket.onopen = socket.onmessage = socket.onclose = null
    ;(socket as unknown as NodeWebSocket).removeAllListeners?.('message')
    socket.onerror = () => {}
    const node = socket as unknown as { terminate?: () => void }
    try {
      if (node.terminate !== undefined) node.terminate()
      else socket.close(1000, 'client closed')
    } catch {
      // closing a socket that never opened can throw in some implementations
    }
  }

  private switchToLongPoll(): void {
    const fallback = this.options.fallback
    const httpOptions = typeof fallback === 'object' ? fallback : { url: this.options.url.replace(/^ws(s?):/, 'http$1:') }
    this.teardown()
    this.generation++
    this.fallback = new HttpConnection(this.params, this.handlers, {
      ...httpOptions,
      getAuthToken: this.options.getAuthToken,
      backoff: httpOptions.backoff ?? this.options.backoff,
    })
    this.fallback.start()
  }

  override push(events: readonly WireEvent[]) {
    return this.fallback?.push(events) ?? super.push(events)
  }

  override reconnect(options?: { readonly afterFailures?: number }): void {
    if (this.fallback !== undefined) return this.fallback.reconnect(options)
    super.reconnect(options)
  }

  override async close(): Promise<void> {
    await this.fallback?.close()
    await super.close()
  }
}

function closeError(code: number, reason: string): SyncError {
  switch (code) {
    case 4401:
      return new SyncError('Unauthorized', `The sync server refused the token (${reason}).`)
    case 4403:
      return new SyncError('Forbidden', `The token may not access this store (${reason}).`)
    case 4409:
      return new SyncError('BackendIdMismatch', `The sync server was reset (${reason}).`)
    case 4429:
      return new SyncError('RateLimited', `The sync server is busy (${reason}).`, { retryAfterMs: 1000 })
    default:
      return new SyncError('Disconnected', `The WebSocket closed (code ${code}${reason ? `: ${reason}` : ''}).`)
  }
}

export type { SyncConnection }
