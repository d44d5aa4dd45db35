import { CairnError } from '../errors.ts'

/**
 * The port between a client's leader and a sync server. WebSocket, HTTP long-poll and the
 * in-memory test backend implement it, so they are interchangeable. The shapes follow wire v1
 * (DESIGN.md section 5).
 *
 * A backend owns its connection: it connects, says `hello` with the client's cursor and known
 * backendId, reconnects forever on its own (with backoff), and after every `welcome` starts a
 * live pull from `cursor()`. The leader owns what to push and when.
 */

/** An event as a client pushes it. */
export interface WireEvent {
  readonly eventId: string
  /** 1, 2, 3… per client, contiguous: lets the server recognise a re-sent push. */
  readonly producerSeq: number
  readonly name: string
  /** The event's args as a JSON value. */
  readonly args: unknown
  readonly clientId: string
  readonly sessionId: string
}

/** An event in the server's order. */
export interface ServerEvent extends WireEvent {
  /** Global sequence number: gap-free per store, from 1. */
  readonly seq: number
}

export interface SyncLimits {
  /** Largest event (its JSON) the server accepts, in bytes. */
  readonly maxEventBytes: number
  readonly maxEventsPerPush: number
  /** Largest message, in bytes (`ws` maxPayload). */
  readonly maxFrameBytes: number
  /** Catch-up pages hold the events of one page window `((k-1)·n, k·n]`, so identical requests get identical answers. */
  readonly pullPageSize: number
}

export const DEFAULT_SYNC_LIMITS: SyncLimits = {
  maxEventBytes: 64 * 1024,
  maxEventsPerPush: 100,
  maxFrameBytes: 1024 * 1024,
  pullPageSize: 400,
}

export interface Welcome {
  readonly backendId: string
  /** The server's head when the connection was accepted. */
  readonly head: number
  readonly limits: SyncLimits
}

/** One page of a pull: events strictly after the cursor, ascending and contiguous. */
export interface PullPage {
  readonly events: readonly ServerEvent[]
  readonly head: number
  /** Events after this page still to come in the catch-up (0 when this page brings the client up to date). */
  readonly remaining: number
}

export interface PushAck {
  /** The global number given to each pushed event, in order (the earlier number for a re-sent event). */
  readonly assigned: readonly number[]
}

export interface SyncConnectParams {
  readonly storeId: string
  /** Read at every (re)connect: the client may pick a new id after a collision. */
  readonly clientId: () => string
  readonly sessionId: string
  /** The backendId the client synced with before, or null the first time. Read at every connect. */
  readonly backendId: () => string | null
  /** The last global number the client holds. Read at every connect to resume the pull. */
  readonly cursor: () => number
  /**
   * The app's `syncPayload` (a JSON value), sent at every connect and given to the server's
   * `authorize`; undefined when the app set none.
   */
  readonly syncPayload?: unknown
}

/** Callbacks from the backend into the leader. They never throw into the backend. */
export interface SyncHandlers {
  /** A (re)connection was accepted; a live pull from `cursor()` has started. */
  onWelcome(welcome: Welcome): void
  /** Pull pages, in order. */
  onPage(page: PullPage): void
  /** The connection dropped; the backend reconnects by itself unless closed. */
  onDisconnect(error: unknown): void
  /**
   * The server refused the connection in a way reconnecting cannot fix (`BackendIdMismatch`,
   * `Forbidden`). The backend stops reconnecting until `reconnect()` is called.
   */
  onRefused(error: SyncError): void
}

export interface SyncConnection {
  /**
   * Pushes events (at most `limits.maxEventsPerPush`). Resolves with the ack; rejects with a
   * `SyncError` (`Invalid`, `ProducerGap`, …) or with code `Disconnected` when the connection
   * dropped before the ack (re-push after the next welcome: the server deduplicates).
   */
  push(events: readonly WireEvent[]): Promise<PushAck>
  readonly connected: boolean
  /**
   * Drops the current connection (if any) and connects again: a fresh hello and pull from `cursor()`.
   * `afterFailures` (1, 2, 3…): how many times in a row the client could not use what the server
   * sent (a pull page it cannot apply); the reconnect then waits the jittered backoff of as many
   * failed connections instead of connecting at once, so a client stuck on a page never hammers
   * the server.
   */
  reconnect(options?: { readonly afterFailures?: number }): void
  /** Stops for good. */
  close(): Promise<void>
}

export interface SyncBackend {
  readonly name: string
  connect(params: SyncConnectParams, handlers: SyncHandlers): SyncConnection
}

/** Every code a SyncError has (servers check a received code against this list). */
export const SYNC_ERROR_CODES = [
  'Unauthorized',
  'Forbidden',
  'Invalid',
  'TooLarge',
  'RateLimited',
  'BackendIdMismatch',
  'ProducerGap',
  'ClientIdCollision',
  'Disconnected',
  'Timeout',
  'Protocol',
] as const

export type SyncErrorCode = (typeof SYNC_ERROR_CODES)[number]

export interface SyncErrorDetails {
  /** `Invalid`: the index of the refused event in the push, and why. */
  readonly index?: number
  readonly reason?: string
  /** `RateLimited`: when to try again. */
  readonly retryAfterMs?: number
  /** `ProducerGap`: the producerSeq the server expected. */
  readonly expected?: number
}

/** A refusal or failure of the sync backend, with the wire code. */
export class SyncError extends CairnError {
  declare readonly code: SyncErrorCode
  readonly index: number | undefined
  readonly reason: string | undefined
  readonly retryAfterMs: number | undefined
  readonly expected: number | undefined
  constructor(code: SyncErrorCode, message: string, details: SyncErrorDetails = {}, options?: { cause?: unknown }) {
    super(code, message, options)
    this.index = details.index
    this.reason = details.reason
    this.retryAfterMs = details.retryAfterMs
    this.expected = details.expected
  }
}

/**
 * The UTF-8 size of `text` in bytes, without encoding it: limits are in bytes, as the server
 * counts them, and `length` counts UTF-16 units.
 */
export function utf8Length(text: string): number {
  let bytes = text.length
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) continue
    if (c < 0x800) bytes += 1
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2 // a pair: 4 bytes for 2 units
      i++
    } else bytes += 2
  }
  return bytes
}
