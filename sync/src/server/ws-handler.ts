import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { SyncError } from '@cairn/core'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import { decodeClientMessage, toWireError, type ClientMessage, type HelloMessage } from '../protocol.ts'
import { clientAddress } from './address.ts'
import type { OriginPolicy } from './origin.ts'
import { TokenBucket } from './rate.ts'
import type { Session, SyncService } from './service.ts'

/** A ping frame is `{"v":1,"type":"ping"}`: anything longer is not one, whatever its spacing. */
const MAX_PING_BYTES = 64

/** WebSocket close codes the server uses (4000-4999 are the application's). */
export const CloseCode = {
  Protocol: 4400,
  Unauthorized: 4401,
  Forbidden: 4403,
  HelloTimeout: 4408,
  BackendIdMismatch: 4409,
  RateLimited: 4429,
  Dead: 4410,
  SlowConsumer: 4413,
  TooLarge: 1009,
  InternalError: 1011,
  ServerClosing: 1001,
  StoreReset: 1012,
} as const

/**
 * The WebSocket side of the server: one connection per client leader. A connection says `hello`,
 * gets `welcome` (or a typed `error` and a close code), then pushes and pulls; frames are handled
 * one at a time, in order.
 */
export class WsHandler<P> {
  readonly wss: WebSocketServer
  private readonly connections = new Set<WsConnection<P>>()
  private readonly sweeper: ReturnType<typeof setInterval>

  constructor(
    private readonly service: SyncService<P>,
    private readonly origins: OriginPolicy,
  ) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: service.limits.maxFrameBytes, perMessageDeflate: false })
    // one timer for every connection: closes the silent ones
    this.sweeper = setInterval(
      () => {
        const now = performance.now()
        for (const c of this.connections) c.sweep(now)
      },
      Math.min(5_000, Math.max(50, Math.floor(Math.min(service.limits.idleTimeoutMs / 4, service.limits.helloTimeoutMs / 2)))),
    )
    this.sweeper.unref()
  }

  /** Handles an HTTP upgrade (from your own server's `upgrade` event). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const address = clientAddress(req, this.service.trustProxy)
    // resets and broken pipes of a peer: counted; the close that follows cleans up
    socket.on('error', () => this.service.stats.clientErrors++)
    if (!this.origins.allows(req)) {
      this.service.count('Forbidden')
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    if (!this.service.acquire(address)) {
      socket.end('HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')
      return
    }
    let released = false
    const release = () => {
      if (!released) {
        released = true
        this.service.release(address)
      }
    }
    socket.once('close', release)
    try {
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.service.stats.connections++
        const connection = new WsConnection(this.service, ws, socket, address)
        this.connections.add(connection)
        ws.once('close', () => {
          connection.dispose()
          this.connections.delete(connection)
          release()
        })
      })
    } catch (e) {
      this.service.internal('WebSocket upgrade failed', e, { address })
      release()
      socket.destroy()
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper)
    for (const c of this.connections) c.closeWith(CloseCode.ServerClosing, 'server closing')
    await new Promise<void>((resolve) => this.wss.close(() => resolve()))
  }
}

class WsConnection<P> {
  private state: 'hello' | 'authorizing' | 'open' | 'closed' = 'hello'
  private session: Session<P> | undefined
  private hello: HelloMessage | undefined
  private readonly connectedAt = performance.now()
  private lastSeen = performance.now()
  private protocolErrors = 0
  private readonly bucket: TokenBucket
  /** Bytes of frames (`pushBytesPerSecond`): past it the socket is read more slowly. */
  private readonly bytes: TokenBucket
  /** Frames received and not handled yet, handled one at a time in order. */
  private readonly inbox: { data: Buffer; isBinary: boolean }[] = []
  private inboxBytes = 0
  private handling = false
  /** Bytes received before the welcome, and how many of them hold the server's pre-auth budget. */
  private preAuthBytes = 0
  private preAuthHeld = 0
  // the live pull
  private pulling = false
  private live = false
  private sentThrough = 0
  private delivering = false
  private deliverAgain = false
  private upToDateSent = false
  private unsubscribe: (() => void) | undefined

  constructor(
    private readonly service: SyncService<P>,
    private readonly ws: WebSocket,
    private readonly socket: Duplex,
    private readonly address: string,
  ) {
    this.bucket = new TokenBucket(service.limits.pushesPerSecond)
    this.bytes = service.newByteBudget()
    // before the welcome only a hello-sized frame is read, and every byte held counts against the server's budget
    socket.prependListener('data', this.onPreAuthData)
    ws.on('message', (data, isBinary) => this.onFrame(data, isBinary))
    ws.on('error', () => {
      // oversized frames (maxPayload) and broken sockets land here; ws closes the socket itself
      this.service.stats.protocolErrors++
    })
  }

  private get closed(): boolean {
    return this.state === 'closed'
  }

  private readonly onPreAuthData = (chunk: Buffer): void => {
    if (this.state === 'open' || this.state === 'closed') return this.endPreAuth()
    this.preAuthBytes += chunk.length
    // 14 bytes: the largest frame header
    if (this.preAuthBytes > this.service.limits.maxHelloBytes + 14 || !this.service.takePreAuth(chunk.length)) {
      if (this.preAuthBytes > this.service.limits.maxHelloBytes + 14) this.service.stats.preAuthOverflows++
      this.service.count('TooLarge')
      this.endPreAuth()
      this.socket.pause() // nothing more is read from it, the close handshake included
      this.closeWith(CloseCode.TooLarge, 'say hello first, in a small frame')
      setTimeout(() => this.ws.terminate(), 100).unref()
      return
    }
    this.preAuthHeld += chunk.length
  }

  private endPreAuth(): void {
    this.socket.off('data', this.onPreAuthData)
    this.service.releasePreAuth(this.preAuthHeld)
    this.preAuthHeld = 0
  }

  sweep(now: number): void {
    if (this.state === 'closed') return
    if (this.state !== 'open' && now - this.connectedAt > this.service.limits.helloTimeoutMs) {
      this.service.stats.helloTimeouts++
      this.closeWith(CloseCode.HelloTimeout, 'no hello in time')
    } else if (now - this.lastSeen > this.service.limits.idleTimeoutMs) {
      this.service.stats.deadConnections++
      this.closeWith(CloseCode.Dead, 'no ping in time')
    }
  }

  dispose(): void {
    this.state = 'closed'
    this.endPreAuth()
    this.inbox.length = 0
    this.unsubscribe?.()
    this.unsubscribe = undefined
  }

  closeWith(code: number, reason: string): void {
    if (this.state === 'closed') return
    this.dispose()
    this.ws.close(code, reason)
    // a peer that never answers the close handshake is cut
    setTimeout(() => this.ws.terminate(), 2_000).unref()
  }

  /** Writes a prebuilt frame straight to the socket (see `wsTextFrame`); ws has no deflate here, so it queues nothing that could be overtaken. */
  private sendFrame(frame: Buffer): void {
    if (this.state === 'closed' || this.ws.readyState !== this.ws.OPEN) return
    if (this.socket.writableLength > this.service.limits.maxBufferedBytes) {
      this.service.stats.slowConsumers++
      this.closeWith(CloseCode.SlowConsumer, 'reading too slowly; resume from your cursor')
      return
    }
    this.socket.write(frame)
  }

  private send(text: string): void {
    if (this.state === 'closed') return
    if (this.ws.bufferedAmount > this.service.limits.maxBufferedBytes) {
      this.service.stats.slowConsumers++
      this.closeWith(CloseCode.SlowConsumer, 'reading too slowly; resume from your cursor')
      return
    }
    this.ws.send(text)
  }

  private sendError(error: SyncError | { code: string; message: string; index?: number; reason?: string }, reqId?: number): void {
    const wire = error instanceof SyncError ? toWireError(error) : error
    this.send(JSON.stringify(reqId === undefined ? { v: 1, type: 'error', ...wire } : { v: 1, type: 'pushError', reqId, ...wire }))
  }

  /**
   * Queues a frame. Frames are decoded and handled one at a time, in order, each after its bytes
   * were taken from the connection's byte budget: a client sending faster than
   * `pushBytesPerSecond` waits (its socket is not read meanwhile, TCP holds it back) instead of
   * keeping the server busy decoding.
   */
  private onFrame(data: RawData, isBinary: boolean): void {
    this.lastSeen = performance.now()
    if (this.state === 'closed') return
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
    // a ping is answered at once, not behind the pushes queued before it: a client whose pushes wait
    // for the database would otherwise see no pong and drop a connection that is alive and working
    if (!isBinary && bytes.length <= MAX_PING_BYTES && this.handling) {
      const decoded = decodeClientMessage(bytes.toString('utf8'), this.service.limits)
      if (decoded.ok && decoded.message.type === 'ping') return this.send('{"v":1,"type":"pong"}')
    }
    this.inbox.push({ data: bytes, isBinary })
    this.inboxBytes += bytes.length
    if (this.inboxBytes > this.service.limits.maxFrameBytes && !this.ws.isPaused) this.ws.pause()
    if (!this.handling) void this.drainInbox()
  }

  private async drainInbox(): Promise<void> {
    this.handling = true
    try {
      while (this.inbox.length > 0 && this.state !== 'closed') {
        const frame = this.inbox.shift()!
        this.inboxBytes -= frame.data.length
        // the connection's byte budget (`pushBytesPerSecond`): past it the socket is read more slowly
        const wait = this.bytes.takeDebt(frame.data.length)
        if (wait > 0) {
          this.ws.pause()
          await new Promise((resolve) => setTimeout(resolve, wait))
          if (this.closed) return
        }
        if (this.ws.isPaused && this.inboxBytes <= this.service.limits.maxFrameBytes) this.ws.resume()
        await this.onFrameDue(frame.data, frame.isBinary)
        // other connections' frames go between this one's (its handling may not have waited for I/O)
        if (this.inbox.length > 0) await new Promise((resolve) => setImmediate(resolve))
      }
    } catch (e) {
      this.service.internal('handling a WebSocket frame failed', e, {
        storeId: this.session?.storeId,
        clientId: this.hello?.clientId,
        address: this.address,
      })
      this.closeWith(CloseCode.InternalError, 'internal error')
    } finally {
      this.handling = false
      if (this.state !== 'closed' && this.ws.isPaused) this.ws.resume()
    }
  }

  private async onFrameDue(data: Buffer, isBinary: boolean): Promise<void> {
    if (isBinary) return this.protocolError('frames are JSON text, not binary')
    const decoded = decodeClientMessage(data.toString('utf8'), this.service.limits)
    if (!decoded.ok) {
      const { error } = decoded
      if (error.reqId !== undefined && this.state === 'open') {
        // a push whose events are bad: refused like any push, and counted like any bad frame
        this.service.count(error.code)
        this.sendError(
          {
            code: error.code,
            message: `Push refused: ${error.reason}.`,
            reason: error.reason,
            ...(error.index === undefined ? {} : { index: error.index }),
          },
          error.reqId,
        )
        this.countRefusal()
        return
      }
      return this.protocolError(error.reason)
    }
    const message = decoded.message
    if (message.type === 'ping') return this.send('{"v":1,"type":"pong"}')
    if (message.type === 'pong') return
    await this.handle(message)
  }

  private protocolError(reason: string): void {
    this.service.stats.protocolErrors++
    this.service.count('Protocol')
    this.sendError({ code: 'Protocol', message: `Bad frame: ${reason}.`, reason })
    if (this.state !== 'open') this.closeWith(CloseCode.Protocol, 'say hello first')
    else this.countRefusal()
  }

  /** Every refused frame (malformed, or a push refused as Invalid / TooLarge) counts toward `maxProtocolErrors`. */
  private countRefusal(): void {
    if (++this.protocolErrors >= this.service.limits.maxProtocolErrors) this.closeWith(CloseCode.Protocol, 'too many bad frames')
  }

  private async handle(message: ClientMessage): Promise<void> {
    if (this.state === 'closed') return
    if (message.type === 'hello') {
      if (this.state !== 'hello') return this.protocolError('hello was already said')
      return this.onHello(message)
    }
    if (this.state !== 'open' || this.session === undefined) return this.protocolError(`"${message.type}" before welcome`)
    if (message.type === 'push') {
      const wait = this.bucket.take()
      if (wait > 0) {
        this.service.count('RateLimited')
        return this.sendError(
          new SyncError('RateLimited', `Too many pushes; try again in ${wait} ms.`, { retryAfterMs: wait }),
          message.reqId,
        )
      }
      try {
        const ack = await this.service.push(this.session, message.events, this.hello!.clientId)
        this.send(JSON.stringify({ v: 1, type: 'pushAck', reqId: message.reqId, assigned: ack.assigned }))
      } catch (e) {
        if (!(e instanceof SyncError)) throw e
        this.sendError(e, message.reqId)
        if (e.code === 'Invalid' || e.code === 'TooLarge') this.countRefusal()
      }
      return
    }
    if (message.type === 'pull') {
      this.pulling = true
      this.live = message.live
      this.sentThrough = message.after
      this.upToDateSent = false
      this.unsubscribe ??= this.service.subscribe(this.session.storeId, (head) => {
        // a wiped store: the client must reconnect and learn the new backendId
        if (head < 0) this.closeWith(CloseCode.StoreReset, 'the store was reset')
        else this.deliver()
      })
      this.deliver()
    }
  }

  private async onHello(hello: HelloMessage): Promise<void> {
    this.state = 'authorizing'
    try {
      const session = await this.service.authorize({
        storeId: hello.storeId,
        token: hello.token,
        transport: 'ws',
        remoteAddress: this.address,
        syncPayload: hello.syncPayload,
      })
      const info = await this.service.storage.info(hello.storeId)
      if (hello.backendId !== null && hello.backendId !== info.backendId) {
        this.service.count('BackendIdMismatch')
        throw new SyncError(
          'BackendIdMismatch',
          `Store "${hello.storeId}" has backendId ${info.backendId}, but this client synced with ${hello.backendId}: the server was reset.`,
        )
      }
      if (this.state !== 'authorizing') return
      this.session = session
      this.hello = hello
      this.state = 'open'
      this.endPreAuth()
      this.send(JSON.stringify({ v: 1, type: 'welcome', backendId: info.backendId, head: info.head, limits: this.clientLimits() }))
    } catch (e) {
      if (!(e instanceof SyncError)) {
        this.service.internal('answering a hello failed', e, { storeId: hello.storeId, clientId: hello.clientId, address: this.address })
        return this.closeWith(CloseCode.InternalError, 'internal error')
      }
      const error = e
      this.sendError(error)
      const code =
        error.code === 'Unauthorized'
          ? CloseCode.Unauthorized
          : error.code === 'Forbidden'
            ? CloseCode.Forbidden
            : error.code === 'BackendIdMismatch'
              ? CloseCode.BackendIdMismatch
              : CloseCode.Protocol
      this.closeWith(code, error.code)
    }
  }

  private clientLimits() {
    const { maxEventBytes, maxEventsPerPush, maxFrameBytes, pullPageSize } = this.service.limits
    return { maxEventBytes, maxEventsPerPush, maxFrameBytes, pullPageSize }
  }

  /** Sends pages from `sentThrough` to the head; one loop at a time, re-run when the head moved meanwhile. */
  private deliver(): void {
    if (!this.pulling || this.state !== 'open') return
    if (this.delivering) {
      this.deliverAgain = true
      return
    }
    this.delivering = true
    void (async () => {
      try {
        const storeId = this.session!.storeId
        do {
          this.deliverAgain = false
          for (;;) {
            if (this.state !== 'open' || !this.pulling) return
            const page = await this.service.page(storeId, this.sentThrough)
            if (this.state !== 'open' || !this.pulling) return
            if (page.count === 0) {
              if (!this.upToDateSent) {
                this.upToDateSent = true
                this.send(`{"v":1,"type":"upToDate","head":${page.head}}`)
              }
              if (!this.live) {
                this.pulling = false
                return
              }
              break
            }
            this.sentThrough += page.count
            this.sendFrame(page.wsFrame)
          }
        } while (this.deliverAgain)
      } catch (e) {
        this.service.internal('reading a page for a WebSocket pull failed', e, {
          storeId: this.session?.storeId,
          after: this.sentThrough,
          address: this.address,
        })
        this.closeWith(CloseCode.InternalError, 'internal error')
      } finally {
        this.delivering = false
      }
    })()
  }
}
