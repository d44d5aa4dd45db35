import type { IncomingMessage, ServerResponse } from 'node:http'
import { SyncError } from '@cairn/core'
import { checkStoreId, decodeClientMessage, httpStatusOf, parseJson, toWireError } from '../protocol.ts'
import { clientAddress } from './address.ts'
import type { OriginPolicy } from './origin.ts'
import { TokenBucket } from './rate.ts'
import type { SyncService } from './service.ts'

// a store id of 256 characters is at most 256 × 9 characters percent-encoded (3 bytes of UTF-8 each)
const ROUTE = /^\/stores\/([^/?#]{1,2304})\/(info|push|pull)$/
const BEARER = /^bearer +(\S+) *$/i

/** An internal failure, as the client sees it: no detail (that goes to the server's log). */
class InternalError extends Error {}

/**
 * The HTTP long-poll side: `GET /stores/:id/info`, `POST /stores/:id/push`,
 * `GET /stores/:id/pull?after=N&live=1`. Auth comes in `Authorization: Bearer <token>` (never in a
 * URL). Refusals carry the wire error as JSON with the status 401/403/409/413/422/429 (and
 * `Retry-After`). Pull answers are `{"v":1,"type":"events","batch":[…]}` with the head and the
 * remaining count in headers, so the body depends only on the request: catch-up pages end at
 * fixed boundaries and carry an ETag (`If-None-Match` gets a 304).
 */
export class HttpHandler<P> {
  private readonly buckets = new Map<string, TokenBucket>()
  private readonly held = new Set<() => void>()
  private readonly sweeper: ReturnType<typeof setInterval>

  constructor(
    private readonly service: SyncService<P>,
    private readonly basePath: string,
    private readonly origins: OriginPolicy,
  ) {
    this.sweeper = setInterval(() => {
      for (const [k, b] of this.buckets) if (b.idle) this.buckets.delete(k)
    }, 10_000)
    this.sweeper.unref()
  }

  /** Handles a request if its path is one of the sync routes; returns false otherwise (to fall through to your own routes). */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const path = q < 0 ? url : url.slice(0, q)
    if (!path.startsWith(this.basePath)) return false
    const match = ROUTE.exec(path.slice(this.basePath.length))
    if (match === null) return false
    if (!this.origins.allows(req)) {
      this.service.count('Forbidden')
      req.resume()
      this.refuse(
        req,
        res,
        new SyncError('Forbidden', `Origin ${String(req.headers.origin).slice(0, 100)} may not use this sync server (allowedOrigins).`),
      )
      return true
    }
    if (req.method === 'OPTIONS') {
      req.resume()
      this.origins.preflight(req, res)
      return true
    }
    let storeId: string
    try {
      storeId = decodeURIComponent(match[1]!)
    } catch {
      this.refuse(req, res, new SyncError('Protocol', 'The store id in the path is not valid URL encoding.'))
      return true
    }
    const problem = checkStoreId(storeId)
    if (problem !== undefined) {
      this.service.stats.protocolErrors++
      this.service.count('Protocol')
      req.resume()
      this.refuse(req, res, new SyncError('Protocol', `Bad store id in the path: ${problem}.`))
      return true
    }
    const params = new URLSearchParams(q < 0 ? '' : url.slice(q + 1))
    const action = match[2] as 'info' | 'push' | 'pull'
    this.route(req, res, storeId, action, params).catch((e) => {
      if (e instanceof SyncError) return this.refuse(req, res, e)
      this.service.internal(`HTTP ${action} failed`, e, { storeId, method: req.method, address: req.socket.remoteAddress })
      this.refuse(req, res, new InternalError())
    })
    return true
  }

  close(): void {
    clearInterval(this.sweeper)
    for (const answer of [...this.held]) answer()
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
    storeId: string,
    action: 'info' | 'push' | 'pull',
    params: URLSearchParams,
  ): Promise<void> {
    const method = action === 'push' ? 'POST' : 'GET'
    // HEAD: what GET would answer, without the body (Node leaves it out); never held
    if (req.method !== method && !(method === 'GET' && req.method === 'HEAD')) {
      const allow = method === 'GET' ? 'GET, HEAD' : method
      res
        .writeHead(405, { Allow: allow, 'Content-Type': 'application/json', ...this.origins.headers(req) })
        .end(JSON.stringify({ v: 1, type: 'error', code: 'Protocol', message: `Use ${allow}.` }))
      req.resume()
      return
    }
    const address = clientAddress(req, this.service.trustProxy)
    const auth = req.headers.authorization
    const token = typeof auth === 'string' ? BEARER.exec(auth)?.[1] : undefined
    // read the body first: a refused push must still drain it, and an oversized one is cut here
    const body = action === 'push' ? await this.readBody(req, res) : undefined
    if (body !== undefined) {
      // bytes first: a flood of large pushes is refused before anything is decoded or authorized
      const bytesWait = this.service.bytesOf(address).take(Buffer.byteLength(body))
      if (bytesWait > 0) {
        this.service.count('RateLimited')
        throw new SyncError('RateLimited', `Too many bytes pushed; try again in ${bytesWait} ms.`, { retryAfterMs: bytesWait })
      }
    }
    const session = await this.service.authorize({
      storeId,
      token,
      transport: 'http',
      remoteAddress: address,
      syncPayload: decodePayload(req.headers['cairn-sync-payload']),
    })
    // every request carries the backendId the client synced with: a wipe between two requests
    // (no long-poll held to be told) must not let a pull read, or a push write, the new store
    const info = await this.service.storage.info(storeId)
    const known = req.headers['cairn-backend-id']
    if (typeof known === 'string' && known !== '' && known !== info.backendId) {
      this.service.count('BackendIdMismatch')
      throw new SyncError(
        'BackendIdMismatch',
        `Store "${storeId}" has backendId ${info.backendId}, but this client synced with ${known}: the server was reset.`,
      )
    }
    if (action === 'info') {
      const { maxEventBytes, maxEventsPerPush, maxFrameBytes, pullPageSize } = this.service.limits
      this.json(req, res, 200, {
        v: 1,
        type: 'welcome',
        backendId: info.backendId,
        head: info.head,
        limits: { maxEventBytes, maxEventsPerPush, maxFrameBytes, pullPageSize },
      })
      return
    }
    if (action === 'push') {
      const decoded = decodeClientMessage(body!, this.service.limits)
      if (!decoded.ok || decoded.message.type !== 'push') {
        const error = decoded.ok ? { code: 'Protocol' as const, reason: 'the body must be a push message' } : decoded.error
        if (error.code === 'Protocol') this.service.stats.protocolErrors++
        this.service.count(error.code)
        throw new SyncError(error.code, `Push refused: ${error.reason}.`, {
          reason: error.reason,
          ...(error.index === undefined ? {} : { index: error.index }),
        })
      }
      const key = `${address} ${session.stamp}`
      let bucket = this.buckets.get(key)
      if (bucket === undefined) this.buckets.set(key, (bucket = new TokenBucket(this.service.limits.pushesPerSecond)))
      const wait = bucket.take()
      if (wait > 0) {
        this.service.count('RateLimited')
        throw new SyncError('RateLimited', `Too many pushes; try again in ${wait} ms.`, { retryAfterMs: wait })
      }
      const ack = await this.service.push(session, decoded.message.events, undefined)
      this.json(req, res, 200, { v: 1, type: 'pushAck', reqId: decoded.message.reqId, assigned: ack.assigned })
      return
    }
    const afterText = params.get('after') ?? '0'
    const after = /^\d{1,15}$/.test(afterText) ? Number(afterText) : NaN
    if (!Number.isSafeInteger(after)) {
      this.service.stats.protocolErrors++
      this.service.count('Protocol')
      throw new SyncError('Protocol', '"after" must be a non-negative integer.')
    }
    const live = params.get('live') === '1' && req.method === 'GET'
    const page = await this.service.page(storeId, after)
    if (page.count > 0 || !live) return this.sendPage(req, res, page)
    await this.hold(req, res, storeId, after, address)
  }

  /** Holds a live pull until the store grows or `longPollMs` passes, then answers with a page (maybe empty). */
  private async hold(req: IncomingMessage, res: ServerResponse, storeId: string, after: number, address: string): Promise<void> {
    if (!this.service.acquire(address)) throw new SyncError('RateLimited', 'Too many connections; try again later.', { retryAfterMs: 1000 })
    this.service.stats.longPolls++
    await new Promise<void>((resolve) => {
      let done = false
      const finish = () => {
        if (done) return
        done = true
        clearTimeout(timer)
        unsubscribe()
        this.held.delete(answer)
        this.service.release(address)
        resolve()
      }
      const answer = () => {
        if (done) return
        finish()
        this.service.page(storeId, after).then(
          (page) => this.sendPage(req, res, page),
          (e) => {
            this.service.internal('reading a page for a long-poll failed', e, { storeId, after })
            this.refuse(req, res, new InternalError())
          },
        )
      }
      const unsubscribe = this.service.subscribe(storeId, (head) => {
        if (head < 0) {
          finish()
          this.refuse(req, res, new SyncError('BackendIdMismatch', `Store "${storeId}" was reset.`))
        } else if (head > after) answer()
      })
      const timer = setTimeout(answer, this.service.limits.longPollMs)
      this.held.add(answer)
      res.once('close', finish)
      // the head moved while the page above was read (a read that waits for the database): answer now
      if ((this.service.latestHead(storeId) ?? -1) > after) answer()
    })
  }

  private sendPage(
    req: IncomingMessage,
    res: ServerResponse,
    page: { after: number; count: number; head: number; remaining: number; batch: string },
  ): void {
    if (res.writableEnded || res.destroyed) return
    const body = `{"v":1,"type":"events","batch":${page.batch}}`
    const etag = `"${page.after}-${page.after + page.count}-${hash(body)}"`
    const headers = {
      ...this.origins.headers(req),
      'Content-Type': 'application/json',
      'Cache-Control': 'private, no-cache',
      Vary: 'Authorization, Origin',
      ETag: etag,
      'Cairn-Head': String(page.head),
      'Cairn-Remaining': String(page.remaining),
    }
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers).end()
      return
    }
    res.writeHead(200, { ...headers, 'Content-Length': Buffer.byteLength(body) }).end(body)
  }

  /**
   * Reads a push body up to `maxFrameBytes`. Past that (a chunked body has no Content-Length to
   * check first) the rest is not read: the 413 goes out with `Connection: close` and the socket
   * is closed once it is sent.
   */
  private readBody(req: IncomingMessage, res: ServerResponse): Promise<string> {
    const max = this.service.limits.maxFrameBytes
    const tooLarge = (message: string) => {
      this.service.count('TooLarge')
      req.pause()
      res.shouldKeepAlive = false
      res.once('finish', () => req.socket.destroy())
      return new SyncError('TooLarge', message)
    }
    return new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length'] ?? 0)
      if (declared > max) return reject(tooLarge(`The body is ${declared} bytes; the limit is ${max}.`))
      const chunks: Buffer[] = []
      let size = 0
      const onData = (chunk: Buffer) => {
        size += chunk.length
        if (size > max) {
          req.off('data', onData)
          reject(tooLarge(`The body is over the limit of ${max} bytes.`))
          return
        }
        chunks.push(chunk)
      }
      req.on('data', onData)
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
      req.on('error', reject)
    })
  }

  private json(req: IncomingMessage, res: ServerResponse, status: number, value: unknown): void {
    if (res.writableEnded || res.destroyed) return
    const body = JSON.stringify(value)
    res
      .writeHead(status, {
        ...this.origins.headers(req),
        'Content-Type': 'application/json',
        'Cache-Control': 'private, no-store',
        Vary: 'Authorization, Origin',
        'Content-Length': Buffer.byteLength(body),
      })
      .end(body)
  }

  /** Answers a refusal; an `InternalError` is a 500 that says nothing more (the detail was logged). */
  private refuse(req: IncomingMessage, res: ServerResponse, error: SyncError | InternalError): void {
    if (res.writableEnded || res.destroyed || res.headersSent) return
    const headers: Record<string, string> = {
      ...this.origins.headers(req),
      'Content-Type': 'application/json',
      'Cache-Control': 'private, no-store',
      Vary: 'Authorization, Origin',
    }
    if (error instanceof InternalError) {
      // the client treats it as a dropped connection: it retries with backoff
      const body = JSON.stringify({
        v: 1,
        type: 'error',
        code: 'Disconnected',
        message: 'Internal server error (logged on the server); try again later.',
      })
      res.writeHead(500, { ...headers, 'Content-Length': String(Buffer.byteLength(body)) }).end(body)
      return
    }
    if (error.retryAfterMs !== undefined) headers['Retry-After'] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)))
    const body = JSON.stringify({ v: 1, type: 'error', ...toWireError(error) })
    res.writeHead(httpStatusOf(error.code), { ...headers, 'Content-Length': String(Buffer.byteLength(body)) }).end(body)
  }
}

/** The `Cairn-Sync-Payload` header (base64url of UTF-8 JSON), or undefined without one; malformed is a `Protocol` refusal. */
function decodePayload(header: string | string[] | undefined): unknown {
  if (header === undefined) return undefined
  const parsed =
    typeof header === 'string' && /^[A-Za-z0-9_-]*$/.test(header) ? parseJson(Buffer.from(header, 'base64url').toString('utf8')) : undefined
  if (parsed === undefined || !parsed.ok) throw new SyncError('Protocol', 'The Cairn-Sync-Payload header is not base64url of JSON.')
  return parsed.value
}

/** FNV-1a of a string, as 8 hex digits: an ETag needs only to change with the body. */
function hash(text: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return (h >>> 0).toString(16).padStart(8, '0')
}
