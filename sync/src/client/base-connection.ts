import {
  DEFAULT_SYNC_LIMITS,
  SyncError,
  type PushAck,
  type SyncConnection,
  type SyncConnectParams,
  type SyncHandlers,
  type SyncLimits,
  type Welcome,
  type WireEvent,
} from '@cairn/core'
import { utf8Length } from '../protocol.ts'

/** A token for the server, or nothing (no auth). Called before every (re)connect. */
export type GetAuthToken = () => string | null | undefined | Promise<string | null | undefined>

/** Calls the app's `getAuthToken`; a throw becomes an `Unauthorized` refusal (shown in syncStatus, retried with backoff). */
export async function fetchAuthToken(getAuthToken: GetAuthToken): Promise<string | null | undefined> {
  try {
    return await getAuthToken()
  } catch (e) {
    throw new SyncError(
      'Unauthorized',
      `getAuthToken threw: ${(e as Error)?.message ?? String(e)}. Sync retries with backoff, calling it again.`,
      {},
      { cause: e },
    )
  }
}

export interface BackoffOptions {
  /** First retry waits up to this long. Default 500 ms. */
  readonly baseMs?: number
  /** No retry waits longer. Default 30 s. */
  readonly capMs?: number
}

/**
 * Full-jitter exponential backoff: a random wait in [0, min(cap, base·2^attempt)], so a crowd of
 * clients cut off together does not come back together.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const base = options.baseMs ?? 500
  const cap = options.capMs ?? 30_000
  return Math.floor(random() * Math.min(cap, base * 2 ** Math.min(attempt, 30)))
}

type State = 'connecting' | 'open' | 'down' | 'refused' | 'closed'

/**
 * What both client transports share: the connection state machine, reconnecting forever with
 * backoff, push bookkeeping, and the rules of `SyncHandlers` (refusals that reconnecting cannot
 * fix stop it until `reconnect()`; every other failure reconnects).
 */
export abstract class BaseConnection implements SyncConnection {
  protected state: State = 'down'
  /** Bumped at every (re)connect and cut: callbacks of an older connection are ignored. */
  protected generation = 0
  protected limits: SyncLimits = DEFAULT_SYNC_LIMITS
  private attempts = 0
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private readonly inflight = new Map<number, { resolve: (ack: PushAck) => void; reject: (e: unknown) => void }>()
  private reqId = 0

  constructor(
    protected readonly params: SyncConnectParams,
    protected readonly handlers: SyncHandlers,
    protected readonly backoff: BackoffOptions = {},
  ) {}

  get connected(): boolean {
    return this.state === 'open'
  }

  /** Opens one connection for `generation`; calls `welcomed` on success, `fail` on failure. */
  protected abstract connectOnce(generation: number): Promise<void>
  /** Drops the transport of the current connection (socket, requests). */
  protected abstract teardown(): void
  /** Sends a push of `generation`; the answer comes back through `settle`. */
  protected abstract sendPush(generation: number, reqId: number, events: readonly WireEvent[]): void

  start(): void {
    this.open()
  }

  protected open(): void {
    if (this.state === 'closed' || this.state === 'refused' || this.state === 'connecting' || this.state === 'open') return
    this.state = 'connecting'
    const generation = ++this.generation
    this.connectOnce(generation).catch((e) => this.fail(generation, e))
  }

  protected welcomed(generation: number, welcome: Welcome): void {
    if (generation !== this.generation || this.state !== 'connecting') return
    this.state = 'open'
    this.attempts = 0
    this.limits = welcome.limits
    this.handlers.onWelcome(welcome)
  }

  /** The connection of `generation` failed or dropped: reconnect after a backoff, or stop on a final refusal. */
  protected fail(generation: number, error: unknown): void {
    if (generation !== this.generation || this.state === 'closed' || this.state === 'refused' || this.state === 'down') return
    // the transports turn network failures into SyncErrors: anything else is a failure of this
    // client (a WebSocket class that throws, a broken fetch), shown in syncStatus.error
    const e =
      error instanceof SyncError
        ? error
        : new SyncError(
            'Protocol',
            `The sync connection failed in this client: ${(error as Error)?.message ?? String(error)}. Reconnecting with backoff.`,
            {},
            { cause: error },
          )
    this.cut(e)
    if (e.code === 'BackendIdMismatch' || e.code === 'Forbidden') {
      this.state = 'refused'
      this.handlers.onRefused(e)
      return
    }
    this.handlers.onDisconnect(e)
    const delay = e.retryAfterMs ?? backoffDelay(this.attempts++, this.backoff)
    this.retryTimer = setTimeout(() => this.open(), delay)
  }

  private cut(error: SyncError): void {
    this.generation++
    this.state = 'down'
    clearTimeout(this.retryTimer)
    this.teardown()
    const message = `The connection dropped before the ack (${error.message}).`
    for (const [, p] of this.inflight) p.reject(new SyncError('Disconnected', message))
    this.inflight.clear()
  }

  /** Answers a push (from the transport). */
  protected settle(generation: number, reqId: number, result: { ack: PushAck } | { error: unknown }): void {
    if (generation !== this.generation) return
    const p = this.inflight.get(reqId)
    if (p === undefined) return
    this.inflight.delete(reqId)
    if ('ack' in result) p.resolve(result.ack)
    else p.reject(result.error)
  }

  push(events: readonly WireEvent[]): Promise<PushAck> {
    if (this.state !== 'open') return Promise.reject(new SyncError('Disconnected', 'Not connected to the sync server.'))
    // bytes, as the server counts them (a non-ASCII character is 2-4 of them); 64 for the envelope.
    // A TooLarge refusal makes the leader split the batch.
    const size = utf8Length(JSON.stringify(events)) + 64
    if (size > this.limits.maxFrameBytes) {
      return Promise.reject(
        new SyncError('TooLarge', `This push is ${size} bytes; the server takes frames up to ${this.limits.maxFrameBytes}.`),
      )
    }
    const reqId = ++this.reqId
    const generation = this.generation
    return new Promise<PushAck>((resolve, reject) => {
      this.inflight.set(reqId, { resolve, reject })
      this.sendPush(generation, reqId, events)
    })
  }

  reconnect(options: { readonly afterFailures?: number } = {}): void {
    if (this.state === 'closed') return
    const wasUp = this.state === 'open' || this.state === 'connecting'
    const error = new SyncError('Disconnected', 'Reconnect requested by the client.')
    this.cut(error)
    if (wasUp) this.handlers.onDisconnect(error)
    this.attempts = 0
    const failures = options.afterFailures ?? 0
    // the client could not use what this server sent: wait as after as many failed connections
    if (failures > 0) this.retryTimer = setTimeout(() => this.open(), backoffDelay(failures - 1, this.backoff))
    else this.open()
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return
    this.cut(new SyncError('Disconnected', 'The connection was closed.'))
    this.state = 'closed'
  }
}
