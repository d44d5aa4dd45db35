import { SyncError, type SyncBackend, type SyncConnectParams, type SyncHandlers, type WireEvent } from '@cairn/core'
import { decodeServerValue, parseJson, toSyncError, type ServerMessage } from '../protocol.ts'
import { BaseConnection, fetchAuthToken, type BackoffOptions, type GetAuthToken } from './base-connection.ts'
import { assertSyncableStoreId, checkTransportOptions } from './check-options.ts'

export interface HttpSyncOptions {
  /** The server's base URL, e.g. `https://sync.example.com` (`server.url`). */
  readonly url: string
  /** Called before every connect; sent as `Authorization: Bearer <token>`. */
  readonly getAuthToken: GetAuthToken
  /** Default: the global `fetch`. */
  readonly fetch?: typeof fetch
  readonly backoff?: BackoffOptions
  /** A request without an answer this long means a dead connection. Default 30 s (the server holds a live pull 20 s). */
  readonly requestTimeoutMs?: number
}

/**
 * A `SyncBackend` over HTTP long-poll (wire v1): `GET /stores/:id/info` as the hello, a loop of
 * `GET /stores/:id/pull?after=N&live=1`, and `POST /stores/:id/push`. Same reconnect, token and
 * resume rules as the WebSocket transport; for networks where WebSockets do not get through.
 *
 * @example
 * const backend = makeHttpSync({ url: 'https://sync.example.com', getAuthToken: () => session.token })
 */
export function makeHttpSync(options: HttpSyncOptions): SyncBackend {
  checkTransportOptions('makeHttpSync', options, ['http:', 'https:'])
  return {
    name: `http ${options.url}`,
    connect(params, handlers) {
      assertSyncableStoreId(params.storeId)
      const connection = new HttpConnection(params, handlers, options)
      connection.start()
      return connection
    },
  }
}

export class HttpConnection extends BaseConnection {
  private abort: AbortController | undefined
  private headers: Record<string, string> = {}
  private readonly base: string

  constructor(
    params: SyncConnectParams,
    handlers: SyncHandlers,
    private readonly options: HttpSyncOptions,
  ) {
    super(params, handlers, options.backoff)
    // every dot encoded too: a store id like "a.b" stays one literal path segment
    this.base = `${options.url.replace(/\/+$/, '')}/stores/${encodeURIComponent(params.storeId).replace(/\./g, '%2E')}`
  }

  protected async connectOnce(generation: number): Promise<void> {
    const token = await fetchAuthToken(this.options.getAuthToken)
    if (generation !== this.generation) return
    const abort = new AbortController()
    this.abort = abort
    const headers: Record<string, string> = token == null ? {} : { Authorization: `Bearer ${token}` }
    if (this.params.syncPayload !== undefined) headers['Cairn-Sync-Payload'] = encodePayload(this.params.syncPayload)
    this.headers = headers
    const known = this.params.backendId()
    const welcome = await this.request(
      `${this.base}/info`,
      { headers: known === null ? headers : { ...headers, 'Cairn-Backend-Id': known } },
      abort,
    )
    if (welcome.message.type !== 'welcome') throw new SyncError('Protocol', `The sync server answered info with "${welcome.message.type}".`)
    // pulls and pushes carry the backendId of this welcome: the server refuses them once the store was wiped
    this.headers = { ...headers, 'Cairn-Backend-Id': welcome.message.backendId }
    this.welcomed(generation, { backendId: welcome.message.backendId, head: welcome.message.head, limits: welcome.message.limits })
    if (generation === this.generation && this.state === 'open') void this.pullLoop(generation, abort)
  }

  private async pullLoop(generation: number, abort: AbortController): Promise<void> {
    let after = this.params.cursor()
    try {
      while (generation === this.generation) {
        const { message } = await this.request(`${this.base}/pull?after=${after}&live=1`, { headers: this.headers }, abort)
        if (generation !== this.generation) return
        if (message.type !== 'events') throw new SyncError('Protocol', `The sync server answered a pull with "${message.type}".`)
        const last = message.batch[message.batch.length - 1]
        if (last !== undefined) after = last.seq
        this.handlers.onPage({ events: message.batch, head: message.head, remaining: message.remaining })
      }
    } catch (e) {
      this.fail(generation, e)
    }
  }

  protected sendPush(generation: number, reqId: number, events: readonly WireEvent[]): void {
    const abort = this.abort
    if (abort === undefined) return this.fail(generation, new SyncError('Disconnected', 'Not connected.'))
    const body = JSON.stringify({ v: 1, type: 'push', reqId, events })
    this.request(
      `${this.base}/push`,
      { method: 'POST', headers: { ...this.headers, 'Content-Type': 'application/json' }, body },
      abort,
    ).then(
      ({ message }) => {
        if (message.type === 'pushAck') this.settle(generation, reqId, { ack: { assigned: message.assigned } })
        else this.fail(generation, new SyncError('Protocol', `The sync server answered a push with "${message.type}".`))
      },
      (error) => {
        const e = error instanceof SyncError ? error : undefined
        // a refused push goes back to the leader; a lost or unauthorized request drops the connection
        // (a wiped store, BackendIdMismatch, ends the connection: the leader applies its policy)
        if (
          e !== undefined &&
          e.code !== 'Unauthorized' &&
          e.code !== 'Disconnected' &&
          e.code !== 'Timeout' &&
          e.code !== 'Protocol' &&
          e.code !== 'BackendIdMismatch'
        ) {
          this.settle(generation, reqId, { error: e })
        } else this.fail(generation, error)
      },
    )
  }

  protected teardown(): void {
    this.abort?.abort()
    this.abort = undefined
  }

  /** One request: resolves with the decoded message, rejects with the server's typed refusal or `Disconnected`/`Timeout`. */
  private async request(url: string, init: RequestInit, abort: AbortController): Promise<{ message: ServerMessage }> {
    const timeoutMs = this.options.requestTimeoutMs ?? 30_000
    const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(timeoutMs)])
    let response: Response
    let text: string
    try {
      response = await (this.options.fetch ?? fetch)(url, { ...init, signal })
      text = await response.text()
    } catch (e) {
      if (abort.signal.aborted) throw new SyncError('Disconnected', 'The connection was closed.')
      if ((e as Error)?.name === 'TimeoutError') throw new SyncError('Timeout', `No answer from the sync server within ${timeoutMs} ms.`)
      throw new SyncError('Disconnected', `The sync server could not be reached: ${(e as Error)?.message ?? e}`, {}, { cause: e })
    }
    const parsed = parseJson(text)
    let value = parsed.ok ? parsed.value : undefined
    if (response.ok && value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'events') {
      // pull answers carry the head and the remaining count in headers (the body depends on the request only)
      value = { ...value, head: Number(response.headers.get('cairn-head')), remaining: Number(response.headers.get('cairn-remaining')) }
    }
    let message: ServerMessage
    try {
      message = decodeServerValue(value)
    } catch (e) {
      if (!response.ok) throw statusError(response)
      throw new SyncError('Protocol', `The sync server sent a bad answer (HTTP ${response.status}).`, {}, { cause: e })
    }
    if (message.type === 'error' || message.type === 'pushError') {
      const error = toSyncError(message)
      if (error.retryAfterMs === undefined && response.headers.get('retry-after') !== null) {
        return Promise.reject(new SyncError(error.code, error.message, { ...error, retryAfterMs: retryAfter(response) }))
      }
      throw error
    }
    if (!response.ok) throw statusError(response)
    return { message }
  }
}

/** The syncPayload as a header value: base64url of its UTF-8 JSON (headers are ASCII). */
function encodePayload(payload: unknown): string {
  let binary = ''
  for (const byte of new TextEncoder().encode(JSON.stringify(payload))) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function retryAfter(response: Response): number {
  const seconds = Number(response.headers.get('retry-after'))
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 1000
}

function statusError(response: Response): SyncError {
  const s = response.status
  if (s === 401) return new SyncError('Unauthorized', 'The sync server refused the token (HTTP 401).')
  if (s === 403) return new SyncError('Forbidden', 'The token may not access this store (HTTP 403).')
  if (s === 413) return new SyncError('TooLarge', 'The sync server refused a too large request (HTTP 413).')
  if (s === 429) return new SyncError('RateLimited', 'The sync server is busy (HTTP 429).', { retryAfterMs: retryAfter(response) })
  return new SyncError('Disconnected', `The sync server answered HTTP ${s}.`)
}
