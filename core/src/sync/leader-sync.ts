import { CairnError } from '../errors.ts'
import { shortId } from '../events/record.ts'
import type { Leader, LoggedEvent } from '../leader/leader.ts'
import {
  DEFAULT_SYNC_LIMITS,
  SyncError,
  type PushAck,
  type ServerEvent,
  type SyncBackend,
  type SyncConnection,
  type SyncLimits,
  type WireEvent,
  utf8Length,
} from './backend.ts'
import type { SyncStatusError } from './status.ts'

/** What to do when the server's backendId is not the one this client synced with (the server was reset). */
export type BackendIdMismatchPolicy = 'reset' | 'shutdown' | 'ignore'

export interface SyncOptions {
  readonly backend: SyncBackend
  /**
   * `'reset'` clears this client's local data and shuts the store down; `'shutdown'` shuts it
   * down keeping the data; `'ignore'` keeps working offline. Default `'shutdown'`.
   */
  readonly onBackendIdMismatch?: BackendIdMismatchPolicy
  /** A push without an answer after this long counts as a dead connection. Default 10 s. */
  readonly pushTimeoutMs?: number
  /**
   * The largest synced event (its args as JSON, in UTF-8 bytes) a commit may carry until the
   * server announced its own `limits.maxEventBytes` (in every welcome; the last one announced
   * is remembered for the next boot). A larger event is refused at commit with an
   * `EventTooLarge` error, nothing applied. Default 64 KiB, the sync server's default.
   */
  readonly maxEventBytes?: number
  /**
   * A JSON value of the app's, sent at every connect (in the WebSocket hello, or the
   * `Cairn-Sync-Payload` header of every HTTP request) and given to the server's `authorize`
   * as `syncPayload`: which tenant, app version or device the client is, beside its token. At
   * most 4 KiB of JSON; not a secret's place (the token is).
   *
   * @example
   * sync: { backend, syncPayload: { tenant: 'acme', appVersion: '2.3.0' } }
   * // server: authorize: ({ token, syncPayload }) => …
   */
  readonly syncPayload?: unknown
}

/** The largest `syncPayload`, in bytes of JSON (it travels in an HTTP header). */
export const MAX_SYNC_PAYLOAD_BYTES = 4096

/** Checks `sync.syncPayload` where it enters: JSON that survives a round trip, at most 4 KiB. */
function checkSyncPayload(payload: unknown): void {
  if (payload === undefined) return
  let json: string | undefined
  try {
    json = JSON.stringify(payload)
  } catch (e) {
    json = undefined
    void e
  }
  const fail = (problem: string) => {
    throw new CairnError('InvalidOption', `sync.syncPayload ${problem}; pass a small JSON value, e.g. { tenant: 'acme' }.`)
  }
  if (json === undefined) return fail('is not JSON (a function, a cycle, a BigInt?)')
  const bytes = utf8Length(json)
  if (bytes > MAX_SYNC_PAYLOAD_BYTES) fail(`is ${bytes} bytes of JSON, over ${MAX_SYNC_PAYLOAD_BYTES}`)
}

export interface LeaderSyncHooks {
  /** Clears the client's local data (the `'reset'` policy). */
  readonly reset: () => Promise<void> | void
  readonly reportError: (error: unknown) => void
}

/**
 * Drives one leader against a sync backend: pushes pending events in order (one push in
 * flight), feeds pulled pages to the leader's merge, and turns refusals into status and policy.
 * An acknowledged push that directly follows the confirmed head is confirmed at once; the same
 * events arriving later by pull are then ignored as re-deliveries.
 */
export class LeaderSync {
  private readonly connection: SyncConnection
  private limits: SyncLimits = DEFAULT_SYNC_LIMITS
  /** producerSeq of the last event the server acknowledged (or that is in flight). */
  private pushedThrough = 0
  private inflight = false
  private stalled: SyncError | undefined
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private closed = false
  /** Pull pages in a row that could not be applied: each reconnect after one waits longer. */
  private pageFailures = 0
  /** Why the last pull page could not be applied; in the status until a page applies. */
  private pageError: SyncError | undefined
  /**
   * The event the server refused for good (`Invalid`, `Forbidden`, `TooLarge`), until the app
   * drops it or the server takes it: nothing after it is pushed. Tried again once per welcome
   * (`retry`), as a server may have changed its mind (a new schema, new permissions).
   */
  private refused: { readonly event: LoggedEvent; readonly status: SyncStatusError; retry: boolean } | undefined
  /** After a refused push of several events: push at most this many, to single out the refused one. */
  private narrow: number | undefined

  constructor(
    private readonly leader: Leader,
    private readonly storeId: string,
    private readonly options: SyncOptions,
    private readonly hooks: LeaderSyncHooks,
  ) {
    checkSyncPayload(options.syncPayload)
    leader.setAuthority(false)
    const remembered = Number(leader.getMeta('maxEventBytes'))
    leader.setMaxEventBytes(
      Number.isSafeInteger(remembered) && remembered > 0 ? remembered : (options.maxEventBytes ?? DEFAULT_SYNC_LIMITS.maxEventBytes),
    )
    this.connection = this.connect(leader, storeId)
  }

  private connect(leader: Leader, storeId: string): SyncConnection {
    try {
      return this.openConnection(leader, storeId)
    } catch (e) {
      // a backend that cannot even start leaves the store working offline, saying why
      const error = new SyncError(
        'Protocol',
        `The sync backend "${this.options.backend.name}" failed to start: ${(e as Error)?.message ?? String(e)}. The store works offline.`,
        {},
        { cause: e },
      )
      this.stalled = error
      leader.setConnection({ connected: false, error: { code: error.code, message: error.message } })
      this.hooks.reportError(error)
      return { connected: false, push: () => Promise.reject(error), reconnect: () => {}, close: async () => {} }
    }
  }

  private openConnection(leader: Leader, storeId: string): SyncConnection {
    return this.options.backend.connect(
      {
        storeId,
        clientId: () => leader.clientId,
        sessionId: `leader-${leader.clientId}`,
        backendId: () => leader.getMeta('backendId'),
        cursor: () => leader.upstreamHead,
        // a copy through JSON: what the server gets is what the check saw
        ...(this.options.syncPayload === undefined ? {} : { syncPayload: JSON.parse(JSON.stringify(this.options.syncPayload)) }),
      },
      {
        onWelcome: (welcome) =>
          this.guard(() => {
            const known = leader.getMeta('backendId')
            if (known !== null && known !== welcome.backendId) {
              this.onMismatch(
                new SyncError('BackendIdMismatch', `The sync server's backendId changed from ${known} to ${welcome.backendId}.`),
              )
              return
            }
            if (known === null) leader.setMeta('backendId', welcome.backendId)
            this.limits = welcome.limits
            this.rememberMaxEventBytes(welcome.limits.maxEventBytes)
            this.inflight = false
            this.stalled = undefined
            this.narrow = undefined
            if (this.refused !== undefined) this.refused.retry = true
            leader.setConnection({ connected: true, serverHead: welcome.head, error: this.standingError() })
            this.pushNext()
          }),
        onPage: (page) =>
          this.guard(() => {
            // the status goes out with the events (or alone when nothing was new)
            leader.setConnection({ serverHead: page.head }, page.events.length > 0)
            this.receive(page.events)
          }),
        onDisconnect: (reason) =>
          this.guard(() => {
            this.inflight = false
            // a refused token (or a getAuthToken that threw) is the app's to fix: say so at once;
            // a dropped connection or a timeout is the network's, and reconnecting is enough
            const shown = reason instanceof SyncError && reason.code !== 'Disconnected' && reason.code !== 'Timeout'
            leader.setConnection(shown ? { connected: false, error: { code: reason.code, message: reason.message } } : { connected: false })
          }),
        onRefused: (error) =>
          this.guard(() => {
            if (error.code === 'BackendIdMismatch') this.onMismatch(error)
            else this.stall(error)
          }),
      },
    )
  }

  /** Called after the leader logged new pending events. */
  pushNext(): void {
    if (this.closed || this.inflight || this.stalled !== undefined || !this.connection.connected) return
    let max = Math.min(this.limits.maxEventsPerPush, this.narrow ?? Infinity)
    const refused = this.refused
    if (refused !== undefined) {
      // the events before the refused one go as usual (an ack may have been lost); the refused
      // one alone, once per connection; the events after it wait for its answer
      const before = refused.event.producerSeq - 1 - this.pushedThrough
      if (before > 0) max = Math.min(max, before)
      else if (!refused.retry) return
      else {
        max = 1
        refused.retry = false
      }
    }
    const batch = this.leader.unpushed(this.pushedThrough, max)
    if (batch.length === 0) return
    this.inflight = true
    const wire = batch.map(toWire)
    const timeoutMs = this.options.pushTimeoutMs ?? 10_000
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SyncError('Timeout', `The sync server did not answer a push within ${timeoutMs} ms.`)), timeoutMs)
    })
    Promise.race([this.connection.push(wire), timeout])
      .then(
        (ack) => this.guard(() => this.onAck(batch, ack)),
        (error) => this.guard(() => this.onPushError(batch, error)),
      )
      .finally(() => clearTimeout(timer))
  }

  /**
   * Drops the event the server refused for good: the leader takes it out of its log, the
   * sessions roll its effects back (the events after it are replayed without it), and pushing
   * resumes with the events after it. Throws `NotRefused` when `eventId` is not the refused event.
   */
  dropRefused(eventId: string): void {
    const refused = this.refused
    if (refused === undefined || refused.event.eventId !== eventId) {
      throw new CairnError(
        'NotRefused',
        refused === undefined
          ? `Event ${eventId} cannot be dropped: the sync server has not refused any event of this client. Only a refused event (syncStatus.error.event) can be dropped.`
          : `Event ${eventId} cannot be dropped: the event the sync server refused is ${refused.event.eventId} ("${refused.event.name}").`,
      )
    }
    this.refused = undefined
    this.leader.dropPending(eventId)
    this.leader.setConnection({ error: this.standingError() })
    this.pushNext()
  }

  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.retryTimer)
    await this.connection.close()
  }

  private onAck(batch: readonly LoggedEvent[], ack: PushAck): void {
    this.inflight = false
    if (ack.assigned.length !== batch.length) {
      this.stall(new SyncError('Protocol', `The server acknowledged ${ack.assigned.length} of ${batch.length} pushed events.`))
      return
    }
    this.narrow = undefined
    if (this.refused !== undefined && batch.some((e) => e.eventId === this.refused!.event.eventId)) {
      // the server took it this time: the queue moves again
      this.refused = undefined
      this.leader.setConnection({ error: this.standingError() })
    }
    this.pushedThrough = batch[batch.length - 1]!.producerSeq
    // The ack gives our events their final numbers: when they directly follow the confirmed head
    // they are confirmed now, without waiting for the pull to bring them back.
    const first = this.leader.pending[0]
    if (first !== undefined && first.eventId === batch[0]!.eventId && ack.assigned[0] === this.leader.upstreamHead + 1) {
      const contiguous = ack.assigned.every((seq, i) => seq === ack.assigned[0]! + i)
      if (contiguous) {
        this.leader.setConnection({ serverHead: ack.assigned[ack.assigned.length - 1]! }, true)
        try {
          this.leader.receiveUpstream(batch.map((e, i) => ({ ...e, seqNum: { global: ack.assigned[i]!, client: 0, rebaseGeneration: 0 } })))
        } catch (e) {
          // nothing changed; the pull brings the same events again
          this.hooks.reportError(e)
        }
      }
    }
    this.pushNext()
  }

  private onPushError(batch: readonly LoggedEvent[], error: unknown): void {
    this.inflight = false
    if (!(error instanceof SyncError)) {
      this.stall(
        new SyncError('Protocol', `The sync backend failed a push: ${(error as Error)?.message ?? String(error)}`, {}, { cause: error }),
      )
      return
    }
    switch (error.code) {
      case 'Disconnected':
        return // re-pushed after the next welcome
      case 'Timeout':
        this.connection.reconnect()
        return
      case 'RateLimited':
        this.retryTimer = setTimeout(() => this.pushNext(), error.retryAfterMs ?? 1000)
        return
      case 'ProducerGap': {
        // resume from what the server expects, if we still hold that event; otherwise the server
        // lacks events we hold as confirmed (it lost data without a new backendId)
        const expected = error.expected ?? 1
        if (this.leader.unpushed(expected - 1, 1)[0]?.producerSeq !== expected) {
          this.stall(error)
          return
        }
        this.pushedThrough = expected - 1
        this.pushNext()
        return
      }
      case 'ClientIdCollision': {
        const old = this.leader.clientId
        this.leader.changeClientId(shortId())
        this.hooks.reportError(
          new CairnError(
            'ClientIdChanged',
            `Client id "${old}" was already used by another client; this client is now "${this.leader.clientId}". No event was lost.`,
          ),
        )
        this.pushedThrough = 0
        // every pending event has a new producerSeq: a refused one is singled out again
        this.refused = undefined
        this.connection.reconnect()
        return
      }
      case 'TooLarge':
        if (batch.length > 1) {
          this.limits = { ...this.limits, maxEventsPerPush: Math.max(1, Math.floor(batch.length / 2)) }
          this.pushNext()
          return
        }
        this.refuse(batch[0]!, error)
        return
      case 'Invalid':
      case 'Forbidden': {
        // a push is all or nothing: single out the refused event (the server's index, or halving)
        // and push the events before it, so only that one waits
        const index = error.index !== undefined && Number.isSafeInteger(error.index) && error.index < batch.length ? error.index : undefined
        if (batch.length === 1 || index === 0) {
          this.refuse(batch[0]!, error)
          return
        }
        this.narrow = index !== undefined && index > 0 ? index : Math.max(1, Math.floor(batch.length / 2))
        this.pushNext()
        return
      }
      default:
        this.stall(error)
    }
  }

  /** The server refused `event` for good: the queue stops behind it; the status and the app are told which. */
  private refuse(event: LoggedEvent, error: SyncError): void {
    this.narrow = undefined
    const reason = error.reason ?? error.message
    const message =
      `The sync server refused event "${event.name}" (${event.eventId}) for good (${error.code}): ${reason}. ` +
      `The events committed after it wait behind it. Drop it with store.dropRefusedEvent('${event.eventId}') ` +
      `(its effects are rolled back, the rest is pushed), or keep waiting: it is tried again at the next connection.`
    const status: SyncStatusError = {
      code: error.code,
      message,
      event: { eventId: event.eventId, name: event.name, args: parseArgs(event.json), reason: error.reason ?? error.message },
    }
    const again = this.refused?.event.eventId === event.eventId
    this.refused = { event, status, retry: false }
    this.leader.setConnection({ error: status })
    // told once per refused event, not again at every connection
    if (!again) this.hooks.reportError(new SyncError(error.code, message, error, { cause: error }))
  }

  /** The error the status shows while the connection is fine: a refused event, or a pull page that failed. */
  private standingError(): SyncStatusError | null {
    if (this.refused !== undefined) return this.refused.status
    return this.pageError === undefined ? null : { code: this.pageError.code, message: this.pageError.message }
  }

  private rememberMaxEventBytes(bytes: unknown): void {
    if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes <= 0) return
    if (this.leader.getMeta('maxEventBytes') !== String(bytes)) this.leader.setMeta('maxEventBytes', String(bytes))
    this.leader.setMaxEventBytes(bytes)
  }

  private receive(events: readonly ServerEvent[]): void {
    let reason: string | undefined
    let cause: unknown
    try {
      const result = this.leader.receiveUpstream(events.map(fromWire))
      if (!result.ok) reason = result.reason
    } catch (e) {
      // whatever the cause (a malformed event, a write the leader's database refused), the page
      // changed nothing
      reason = (e as Error)?.message ?? String(e)
      cause = e
    }
    if (reason !== undefined) {
      this.pageFailures++
      const error = new SyncError(
        'Protocol',
        `Could not apply a pull page from the sync server: ${reason}. Nothing of it was applied; pulling again from e${this.leader.upstreamHead} after a backoff (${this.pageFailures} such pages in a row).`,
        {},
        { cause },
      )
      this.pageError = error
      this.leader.setConnection({ error: { code: error.code, message: error.message } })
      this.hooks.reportError(error)
      this.connection.reconnect({ afterFailures: this.pageFailures })
      return
    }
    if (events.length > 0) this.pageFailures = 0
    if (this.pageError !== undefined) {
      this.pageError = undefined
      if (this.stalled === undefined) this.leader.setConnection({ error: this.standingError() })
    }
    this.pushNext()
  }

  /** Pushing stops until the next welcome; nothing is lost, the status says why. */
  private stall(error: SyncError): void {
    this.stalled = error
    this.leader.setConnection({ error: { code: error.code, message: error.message } })
    this.hooks.reportError(error)
  }

  private onMismatch(error: SyncError): void {
    const policy = this.options.onBackendIdMismatch ?? 'shutdown'
    this.leader.setConnection({ connected: false, error: { code: error.code, message: error.message } })
    this.connection.close().catch((e: unknown) => this.hooks.reportError(e))
    if (policy === 'ignore') {
      this.hooks.reportError(
        new SyncError(
          'BackendIdMismatch',
          `${error.message} Sync stopped; the store keeps working offline (onBackendIdMismatch: 'ignore').`,
        ),
      )
      return
    }
    const reason =
      policy === 'reset'
        ? `${error.message} Local data of store "${this.storeId}" was cleared (onBackendIdMismatch: 'reset'); create the store again to sync from the server.`
        : `${error.message} The store was shut down keeping its local data (onBackendIdMismatch: 'shutdown').`
    void (async () => {
      try {
        if (policy === 'reset') await this.hooks.reset()
      } catch (e) {
        this.hooks.reportError(e)
      } finally {
        this.leader.shutdownSessions(reason)
      }
    })()
  }

  /** Runs a handler: whatever it throws is shown in the status (and reported), never lost. */
  private guard(fn: () => void): void {
    if (this.closed) return
    try {
      fn()
    } catch (e) {
      const code = e instanceof CairnError ? e.code : 'SyncFailed'
      try {
        this.leader.setConnection({
          error: {
            code,
            message: `Sync failed in this client: ${(e as Error)?.message ?? String(e)}. It recovers at the next connection.`,
          },
        })
      } finally {
        this.hooks.reportError(e)
      }
    }
  }
}

function parseArgs(json: string): unknown {
  try {
    return JSON.parse(json)
  } catch {
    return json
  }
}

export function toWire(e: LoggedEvent): WireEvent {
  return {
    eventId: e.eventId,
    producerSeq: e.producerSeq,
    name: e.name,
    args: JSON.parse(e.json),
    clientId: e.clientId,
    sessionId: e.sessionId,
  }
}

export function fromWire(e: ServerEvent): LoggedEvent {
  if (e === null || typeof e !== 'object' || !Number.isSafeInteger(e.seq) || typeof e.eventId !== 'string' || typeof e.name !== 'string') {
    throw new SyncError('Protocol', `The sync server sent a malformed event: ${JSON.stringify(e)?.slice(0, 200)}`)
  }
  return {
    seqNum: { global: e.seq, client: 0, rebaseGeneration: 0 },
    name: e.name,
    json: JSON.stringify(e.args ?? null),
    eventId: e.eventId,
    clientId: String(e.clientId),
    sessionId: String(e.sessionId),
    clientOnly: false,
    producerSeq: Number(e.producerSeq) || 0,
  }
}
