import { InvalidEventArgsError, SyncError, type PushAck, type WireEvent } from '@cairn/core'
import type { SyncStorage } from '../storage/types.ts'
import { utf8Length } from '../protocol.ts'
import {
  checkServerOptions,
  defaultPrincipalId,
  stderrLogger,
  type AuthorizeContext,
  type ServerLimits,
  type SyncServerLogger,
  type SyncServerOptions,
} from './options.ts'
import { PageCache } from './page-cache.ts'
import { TokenBucket } from './rate.ts'

/** Counters of a running server: every refusal and bad input is counted here. */
export interface SyncServerStats {
  connections: number
  openConnections: number
  connectionsRefused: number
  helloTimeouts: number
  deadConnections: number
  slowConsumers: number
  protocolErrors: number
  pushes: number
  eventsAppended: number
  duplicatesAcked: number
  longPolls: number
  /** Failures of the server itself (storage, a throwing `authorize`…), logged with their detail through `logger`. */
  internalErrors: number
  /** Connections cut before their hello was answered: a too large first frame, or the server's pre-auth budget spent. */
  preAuthOverflows: number
  /** HTTP connections the Node server dropped: malformed requests, header and request timeouts. */
  clientErrors: number
  /** Pull pages kept for reuse, and their approximate size. */
  cachedPages: number
  cachedPageBytes: number
  /** Refusals by code: Unauthorized, Forbidden, Invalid, TooLarge, RateLimited, BackendIdMismatch, ProducerGap, ClientIdCollision… */
  refused: Record<string, number>
}

/** An authorized client of one store. */
export interface Session<P> {
  readonly storeId: string
  readonly principal: P
  readonly stamp: string
}

/** A page as sent: one JSON text shared by every connection at the same cursor. */
export interface PageFrame {
  readonly after: number
  readonly count: number
  readonly head: number
  readonly remaining: number
  /** `{"v":1,"type":"events",…}` */
  readonly frame: string
  /** The frame as a whole WebSocket text frame (header + UTF-8), built once for every socket it goes to. */
  readonly wsFrame: Buffer
  /** `[…]`: the batch alone (HTTP body). */
  readonly batch: string
  /** Approximate memory held (for the page cache's budget). */
  readonly bytes: number
}

/**
 * What both transports share: authorization, validation, appends, and the live fan-out. A store's
 * listeners are told its new head after every append; pages are built once per (cursor, head) and
 * shared, so 1,000 clients on one store cost one read and one JSON serialization per append.
 */
export class SyncService<P> {
  readonly limits: ServerLimits
  readonly storage: SyncStorage
  readonly stats: SyncServerStats = {
    connections: 0,
    openConnections: 0,
    connectionsRefused: 0,
    helloTimeouts: 0,
    deadConnections: 0,
    slowConsumers: 0,
    protocolErrors: 0,
    pushes: 0,
    eventsAppended: 0,
    duplicatesAcked: 0,
    longPolls: 0,
    internalErrors: 0,
    preAuthOverflows: 0,
    clientErrors: 0,
    cachedPages: 0,
    cachedPageBytes: 0,
    refused: {},
  }
  readonly logger: SyncServerLogger
  private readonly listeners = new Map<string, Set<(head: number) => void>>()
  /** The last head told to a store's listeners, while it has any (see `latestHead`). */
  private readonly heads = new Map<string, number>()
  /** Unfollows of the storage's head watch (multi-node storages), per store with listeners. */
  private readonly following = new Map<string, () => void>()
  /** Pages of the current head; a store's are dropped at every append to it. */
  private readonly pages: PageCache<PageFrame>
  private readonly perAddress = new Map<string, number>()
  /** Push bytes per HTTP client address (`pushBytesPerSecond`); a WebSocket has its own. */
  private readonly byteBuckets = new Map<string, TokenBucket>()
  private readonly sweeper: ReturnType<typeof setInterval>
  private open = 0
  /** Bytes received from connections not welcomed yet (`maxPreAuthBytes`). */
  private preAuth = 0

  constructor(private readonly options: SyncServerOptions<P>) {
    this.limits = checkServerOptions(options as SyncServerOptions<unknown>)
    this.storage = options.storage
    this.logger = options.logger ?? stderrLogger
    this.pages = new PageCache(this.limits.pageCacheBytes)
    this.sweeper = setInterval(() => {
      for (const [k, b] of this.byteBuckets) if (b.idle) this.byteBuckets.delete(k)
    }, 10_000)
    this.sweeper.unref()
  }

  /** A push byte budget (see `pushBytesPerSecond`): a burst of twice the rate, at least one largest frame. */
  newByteBudget(): TokenBucket {
    const { pushBytesPerSecond, maxFrameBytes } = this.limits
    return new TokenBucket(pushBytesPerSecond, Math.max(pushBytesPerSecond, maxFrameBytes))
  }

  /** The push byte budget of an HTTP client address. */
  bytesOf(address: string): TokenBucket {
    let bucket = this.byteBuckets.get(address)
    if (bucket === undefined) this.byteBuckets.set(address, (bucket = this.newByteBudget()))
    return bucket
  }

  close(): void {
    clearInterval(this.sweeper)
  }

  /**
   * Reports a failure of the server itself: logged with its detail and context, counted, and
   * turned into what the client may see (nothing of the detail).
   */
  internal(what: string, error: unknown, context: Readonly<Record<string, unknown>> = {}): void {
    this.stats.internalErrors++
    try {
      this.logger.error(what, { ...context, error })
    } catch (e) {
      // a throwing logger must not take the server down; stderr still gets both
      stderrLogger.error(`${what} (and the logger threw: ${(e as Error)?.message ?? String(e)})`, { ...context, error })
    }
  }

  /** Takes `bytes` of the pre-auth budget; false (counted) when the server holds too much for unwelcomed connections. */
  takePreAuth(bytes: number): boolean {
    if (this.preAuth + bytes > this.limits.maxPreAuthBytes) {
      this.stats.preAuthOverflows++
      return false
    }
    this.preAuth += bytes
    return true
  }

  releasePreAuth(bytes: number): void {
    this.preAuth = Math.max(0, this.preAuth - bytes)
  }

  get trustProxy(): readonly string[] | undefined {
    return this.options.trustProxy
  }

  count(code: string): void {
    this.stats.refused[code] = (this.stats.refused[code] ?? 0) + 1
  }

  /** Takes a connection slot for `address`; false when the server or the address is full. */
  acquire(address: string): boolean {
    const used = this.perAddress.get(address) ?? 0
    if (this.open >= this.limits.maxConnections || used >= this.limits.maxConnectionsPerAddress) {
      this.stats.connectionsRefused++
      this.count('RateLimited')
      return false
    }
    this.open++
    this.perAddress.set(address, used + 1)
    this.stats.openConnections = this.open
    return true
  }

  release(address: string): void {
    this.open--
    const used = (this.perAddress.get(address) ?? 1) - 1
    if (used <= 0) this.perAddress.delete(address)
    else this.perAddress.set(address, used)
    this.stats.openConnections = this.open
  }

  /** Runs `authorize`; refusals and failures of `authorize` itself become `SyncError`s. */
  async authorize(context: AuthorizeContext): Promise<Session<P>> {
    let decision
    try {
      decision = await this.options.authorize(context)
    } catch (e) {
      // the detail (a connection string, a stack) is for the server's log, never for the client
      this.internal('authorize threw', e, { storeId: context.storeId, transport: context.transport, remoteAddress: context.remoteAddress })
      decision = {
        refuse: 'Unauthorized' as const,
        message: 'The server could not check the token (an internal error, logged on the server); try again later.',
      }
    }
    if (decision === null || typeof decision !== 'object' || !('principal' in decision)) {
      const code = decision !== null && typeof decision === 'object' && decision.refuse === 'Forbidden' ? 'Forbidden' : 'Unauthorized'
      this.count(code)
      const message = (decision as { message?: string } | null)?.message
      throw new SyncError(
        code,
        message ?? (code === 'Forbidden' ? `This token may not access store "${context.storeId}".` : 'The auth token was refused.'),
      )
    }
    const principal = decision.principal
    return { storeId: context.storeId, principal, stamp: (this.options.principalId ?? defaultPrincipalId)(principal) }
  }

  /**
   * Checks and appends a push for `session`. `clientId` is the connection's (WebSocket hello);
   * events claiming another client are refused, as are events the schema does not know.
   */
  async push(session: Session<P>, events: readonly WireEvent[], clientId: string | undefined): Promise<PushAck> {
    try {
      await this.validate(events, clientId ?? events[0]?.clientId)
      if (this.options.authorizePush !== undefined) {
        let decision
        try {
          decision = await this.options.authorizePush({ storeId: session.storeId, principal: session.principal, events })
        } catch (e) {
          this.internal('authorizePush threw', e, { storeId: session.storeId, principal: session.stamp, events: events.length })
          decision = {
            code: 'Forbidden' as const,
            message: 'The server could not check this push (an internal error, logged on the server).',
          }
        }
        if (decision !== true) {
          const d = decision === false ? { code: 'Forbidden' as const } : decision
          throw new SyncError(
            d.code,
            d.message ??
              (d.code === 'Forbidden'
                ? 'This principal may not push these events.'
                : `Event ${d.index ?? 0} was refused: ${d.reason ?? 'invalid'}.`),
            {
              ...(d.index === undefined ? {} : { index: d.index }),
              ...(d.reason === undefined ? {} : { reason: d.reason }),
            },
          )
        }
      }
      const result = await this.storage.append(session.storeId, events, session.stamp)
      this.stats.pushes++
      this.stats.eventsAppended += result.appended
      this.stats.duplicatesAcked += events.length - result.appended
      if (result.appended > 0) this.notify(session.storeId, result.head)
      return { assigned: result.assigned }
    } catch (e) {
      if (e instanceof SyncError) this.count(e.code)
      throw e
    }
  }

  /** Checks each event; a large push yields to other connections every few ms (decoding 100 large events takes tens of ms). */
  private async validate(events: readonly WireEvent[], clientId: string | undefined): Promise<void> {
    const schema = this.options.schema
    let slice = performance.now()
    for (const [index, e] of events.entries()) {
      if (performance.now() - slice > 4) {
        await new Promise((resolve) => setImmediate(resolve))
        slice = performance.now()
      }
      const invalid = (reason: string) => new SyncError('Invalid', `Event ${index} (${e.name}) was refused: ${reason}.`, { index, reason })
      if (e.clientId !== clientId) throw invalid(`its clientId "${e.clientId}" is not this connection's client "${clientId}"`)
      let json: string
      try {
        json = JSON.stringify(e.args ?? null)
      } catch {
        throw invalid('its args are not JSON')
      }
      const bytes = utf8Length(json)
      if (bytes > this.limits.maxEventBytes) throw invalid(`too large: ${bytes} bytes, the limit is ${this.limits.maxEventBytes}`)
      if (schema === undefined) continue
      const def = schema.eventsByName.get(e.name)
      if (def === undefined) throw invalid('unknown event name')
      if (def.clientOnly) throw invalid('a client-only event is never synced')
      try {
        def.decode(json)
      } catch (error) {
        throw invalid(
          error instanceof InvalidEventArgsError
            ? error.message
            : `args do not match the event schema (${(error as Error)?.message ?? error})`,
        )
      }
    }
  }

  /** Listens to a store's head; returns the unsubscribe. */
  subscribe(storeId: string, listener: (head: number) => void): () => void {
    let set = this.listeners.get(storeId)
    if (set === undefined) {
      this.listeners.set(storeId, (set = new Set()))
      // several nodes on one storage: appends made through other nodes wake this store's listeners too
      const unfollow = this.storage.follow?.(storeId, (head) => this.notify(storeId, head))
      if (unfollow !== undefined) this.following.set(storeId, unfollow)
    }
    set.add(listener)
    return () => {
      set.delete(listener)
      if (set.size === 0 && this.listeners.get(storeId) === set) {
        this.listeners.delete(storeId)
        this.heads.delete(storeId)
        this.following.get(storeId)?.()
        this.following.delete(storeId)
      }
    }
  }

  /** Tells a store's listeners its new head; -1 means the store was wiped. */
  notify(storeId: string, head: number): void {
    this.pages.drop(storeId)
    this.updateCacheStats()
    if (head < 0) this.heads.delete(storeId)
    else if (this.listeners.has(storeId) && head > (this.heads.get(storeId) ?? -1)) this.heads.set(storeId, head)
    for (const listener of [...(this.listeners.get(storeId) ?? [])]) listener(head)
  }

  /**
   * The highest head told to the store's listeners since it got its first one. A listener that
   * subscribes after reading a page compares it with its cursor: a head told while its read was in
   * flight (a storage read that waits for the database) is not missed.
   */
  latestHead(storeId: string): number | undefined {
    return this.heads.get(storeId)
  }

  /** The page after `after`, serialized once per (store, head, after) and shared by every connection at that cursor. */
  async page(storeId: string, after: number): Promise<PageFrame> {
    const page = await this.pages.get(storeId, after, () => this.buildPage(storeId, after))
    this.updateCacheStats()
    return page
  }

  private updateCacheStats(): void {
    this.stats.cachedPages = this.pages.size
    this.stats.cachedPageBytes = this.pages.bytes
  }

  private async buildPage(storeId: string, after: number): Promise<PageFrame> {
    const page = await this.storage.page(storeId, after, this.limits.pullPageSize)
    const batch = JSON.stringify(page.events)
    const frame = `{"v":1,"type":"events","batch":${batch},"head":${page.head},"remaining":${page.remaining}}`
    const wsFrame = wsTextFrame(frame)
    return {
      // two strings (up to 2 bytes a character) and the frame's buffer
      bytes: wsFrame.length + 2 * (frame.length + batch.length),
      after,
      count: page.events.length,
      head: page.head,
      remaining: page.remaining,
      batch,
      frame,
      wsFrame,
    }
  }

  /** Deletes a store (as a server reset would) and drops its connections' cached pages. */
  async wipe(storeId: string): Promise<void> {
    await this.storage.wipe(storeId)
    this.notify(storeId, -1)
  }
}

/**
 * An unmasked WebSocket text frame (RFC 6455 5.2) holding `text`. Fan-out writes this one buffer to
 * every socket: one write call each instead of ws's header + payload pair, and no per-socket copy.
 */
export function wsTextFrame(text: string): Buffer {
  const payload = Buffer.from(text)
  const n = payload.length
  const header = n < 126 ? Buffer.from([0x81, n]) : n < 65536 ? Buffer.from([0x81, 126, n >> 8, n & 0xff]) : Buffer.alloc(10)
  if (n >= 65536) {
    header[0] = 0x81
    header[1] = 127
    header.writeBigUInt64BE(BigInt(n), 2)
  }
  return Buffer.concat([header, payload])
}
