import { SYNC_ERROR_CODES, SyncError, type ServerEvent, type SyncErrorCode, type SyncLimits, type WireEvent } from '@cairn/core'

/**
 * Wire protocol v1 (DESIGN.md section 5): JSON messages, each with `v: 1` and a `type`. The
 * decoders here are the only way bytes from the network become typed messages: they check every
 * field and never throw, so garbage becomes a typed `DecodeError` the server answers and counts.
 */
export const WIRE_VERSION = 1

/** The deepest nesting accepted inside an event's args (deeper JSON is refused, not recursed into). */
export const MAX_ARGS_DEPTH = 64

// ---- client → server ----

export interface HelloMessage {
  readonly v: 1
  readonly type: 'hello'
  readonly storeId: string
  readonly clientId: string
  readonly sessionId: string
  readonly backendId: string | null
  readonly cursor: number
  readonly token?: string
  /** The app's JSON value for `authorize` (`sync.syncPayload`). */
  readonly syncPayload?: unknown
}

export interface PushMessage {
  readonly v: 1
  readonly type: 'push'
  readonly reqId: number
  readonly events: readonly WireEvent[]
}

export interface PullMessage {
  readonly v: 1
  readonly type: 'pull'
  readonly after: number
  readonly live: boolean
}

export interface PingMessage {
  readonly v: 1
  readonly type: 'ping' | 'pong'
}

export type ClientMessage = HelloMessage | PushMessage | PullMessage | PingMessage

// ---- server → client ----

export interface WelcomeMessage {
  readonly v: 1
  readonly type: 'welcome'
  readonly backendId: string
  readonly head: number
  readonly limits: SyncLimits
}

export interface PushAckMessage {
  readonly v: 1
  readonly type: 'pushAck'
  readonly reqId: number
  readonly assigned: readonly number[]
}

/** A refusal on the wire: the `SyncError` code and its details. */
export interface WireError {
  readonly code: SyncErrorCode
  readonly message: string
  readonly index?: number
  readonly reason?: string
  readonly retryAfterMs?: number
  readonly expected?: number
}

export interface PushErrorMessage extends WireError {
  readonly v: 1
  readonly type: 'pushError'
  readonly reqId: number
}

/** A refusal not tied to a push (hello refused, malformed frame). */
export interface ErrorMessage extends WireError {
  readonly v: 1
  readonly type: 'error'
}

/** One page of a pull; live pages follow as events are appended. A connection has one pull. */
export interface EventsMessage {
  readonly v: 1
  readonly type: 'events'
  readonly batch: readonly ServerEvent[]
  readonly head: number
  readonly remaining: number
}

export interface UpToDateMessage {
  readonly v: 1
  readonly type: 'upToDate'
  readonly head: number
}

export type ServerMessage =
  WelcomeMessage | PushAckMessage | PushErrorMessage | ErrorMessage | EventsMessage | UpToDateMessage | PingMessage

// ---- decoding ----

export type Decoded<T> = { readonly ok: true; readonly message: T } | { readonly ok: false; readonly error: DecodeError }

/** Why a frame was refused. `reqId` is set when the frame was a push whose reqId could be read. */
export interface DecodeError {
  readonly code: 'Protocol' | 'Invalid' | 'TooLarge'
  readonly reason: string
  readonly reqId?: number
  readonly index?: number
}

const SYNC_ERROR_CODE_SET: ReadonlySet<string> = new Set(SYNC_ERROR_CODES)

const MAX_ID_LENGTH = 256
const MAX_NAME_LENGTH = 256

/** The longest store id, in characters (UTF-16 code units, as JavaScript counts them). */
export const MAX_STORE_ID_LENGTH = 256

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * Why `storeId` cannot be used with a sync server, or undefined when it can. One rule for both
 * transports (the HTTP one puts the id in a URL path): 1..256 characters, no control characters,
 * no unpaired surrogate (it has no UTF-8 form), and not `.` or `..` (URLs resolve those away).
 *
 * @example
 * checkStoreId('todos/alice') // undefined: fine
 * checkStoreId('..') // 'a store id cannot be "." or ".." …'
 */
export function checkStoreId(storeId: unknown): string | undefined {
  if (typeof storeId !== 'string' || storeId.length === 0 || storeId.length > MAX_STORE_ID_LENGTH)
    return `a store id is a string of 1..${MAX_STORE_ID_LENGTH} characters`
  if (storeId === '.' || storeId === '..') return 'a store id cannot be "." or ".." (URLs resolve those path segments away)'
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(storeId)) return 'a store id cannot contain control characters'
  if (LONE_SURROGATE.test(storeId)) return 'a store id cannot contain an unpaired surrogate (it has no UTF-8 form)'
  return undefined
}

/** The UTF-8 size of `text` in bytes, without encoding it (limits are in bytes, `length` counts UTF-16 units). */
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

class Refusal {
  constructor(readonly error: DecodeError) {}
}

function refuse(reason: string, extra: Partial<DecodeError> = {}): never {
  throw new Refusal({ code: 'Protocol', reason, ...extra })
}

/** Parses JSON text; `undefined` when it is not JSON (deep nesting included). */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch (e) {
    return { ok: false, reason: `not JSON (${e instanceof Error ? e.message.slice(0, 80) : 'parse error'})` }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function str(o: Record<string, unknown>, key: string, max = MAX_ID_LENGTH): string {
  const value = o[key]
  if (typeof value !== 'string' || value.length === 0 || value.length > max) refuse(`"${key}" must be a string of 1..${max} characters`)
  return value
}

function nat(o: Record<string, unknown>, key: string, min = 0): number {
  const value = o[key]
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) refuse(`"${key}" must be a safe integer ≥ ${min}`)
  return value
}

function envelope(value: unknown): Record<string, unknown> {
  if (!isRecord(value)) refuse('a message is a JSON object')
  if (value.v !== WIRE_VERSION)
    refuse(`unsupported protocol version ${JSON.stringify(value.v)?.slice(0, 20)}; this server speaks v${WIRE_VERSION}`)
  if (typeof value.type !== 'string') refuse('"type" must be a string')
  return value
}

/** Depth of a JSON value, walking iteratively (no recursion a hostile value could overflow); stops past `max`. */
export function jsonDepthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (v === null || typeof v !== 'object') continue
    if (depth > max) return true
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1])
  }
  return false
}

/** Checks one pushed event; the server assigns `seq`, so a client-sent one is refused. */
export function decodeWireEvent(value: unknown, index: number): WireEvent {
  const invalid = (reason: string): never => {
    throw new Refusal({ code: 'Invalid', reason: `event ${index}: ${reason}`, index })
  }
  if (!isRecord(value)) invalid('an event is a JSON object')
  const e = value as Record<string, unknown>
  if ('seq' in e) invalid('"seq" is assigned by the server, a client may not send it')
  const field = (key: string, max = MAX_ID_LENGTH) => {
    const v = e[key]
    return typeof v === 'string' && v.length > 0 && v.length <= max ? v : invalid(`"${key}" must be a string of 1..${max} characters`)
  }
  const producerSeq = e.producerSeq
  if (typeof producerSeq !== 'number' || !Number.isSafeInteger(producerSeq) || producerSeq < 1)
    invalid('"producerSeq" must be a safe integer ≥ 1')
  if (!('args' in e)) invalid('"args" is missing')
  if (jsonDepthExceeds(e.args, MAX_ARGS_DEPTH)) invalid(`"args" is nested deeper than ${MAX_ARGS_DEPTH}`)
  return {
    eventId: field('eventId'),
    producerSeq: producerSeq as number,
    name: field('name', MAX_NAME_LENGTH),
    args: e.args,
    clientId: field('clientId'),
    sessionId: field('sessionId'),
  }
}

/** Decodes a push's events (also the body of `POST /stores/:id/push`). */
export function decodeEvents(value: unknown, maxEventsPerPush: number, reqId?: number): WireEvent[] {
  if (!Array.isArray(value)) refuse('"events" must be an array', { reqId })
  if (value.length === 0) throw new Refusal({ code: 'Invalid', reason: 'a push carries at least one event', reqId })
  if (value.length > maxEventsPerPush)
    throw new Refusal({
      code: 'TooLarge',
      reason: `a push carries at most ${maxEventsPerPush} events; this one had ${value.length}`,
      reqId,
    })
  try {
    return value.map((e, i) => decodeWireEvent(e, i))
  } catch (e) {
    if (e instanceof Refusal) throw new Refusal({ ...e.error, reqId })
    throw e
  }
}

function attempt<T>(decode: () => T): Decoded<T> {
  try {
    return { ok: true, message: decode() }
  } catch (e) {
    if (e instanceof Refusal) return { ok: false, error: e.error }
    return {
      ok: false,
      error: { code: 'Protocol', reason: `undecodable message (${e instanceof Error ? e.message.slice(0, 80) : 'error'})` },
    }
  }
}

/**
 * Decodes a frame a client sent. Never throws: garbage gives `{ ok: false, error }`.
 *
 * @example
 * const decoded = decodeClientMessage(text, DEFAULT_SYNC_LIMITS)
 * if (!decoded.ok) socket.send(JSON.stringify({ v: 1, type: 'error', code: decoded.error.code, message: decoded.error.reason }))
 */
export function decodeClientMessage(text: string, limits: Pick<SyncLimits, 'maxEventsPerPush'>): Decoded<ClientMessage> {
  return attempt(() => {
    const parsed = parseJson(text)
    if (!parsed.ok) refuse(parsed.reason)
    const o = envelope(parsed.value)
    switch (o.type) {
      case 'hello': {
        const backendId = o.backendId
        if (backendId !== undefined && backendId !== null && (typeof backendId !== 'string' || backendId.length > MAX_ID_LENGTH))
          refuse('"backendId" must be a string or null')
        const token = o.token
        if (token !== undefined && (typeof token !== 'string' || token.length > 8192))
          refuse('"token" must be a string of at most 8192 characters')
        const storeIdProblem = checkStoreId(o.storeId)
        if (storeIdProblem !== undefined) refuse(`"storeId": ${storeIdProblem}`)
        return {
          v: 1,
          type: 'hello',
          storeId: o.storeId as string,
          clientId: str(o, 'clientId'),
          sessionId: str(o, 'sessionId'),
          backendId: (backendId as string | null | undefined) ?? null,
          cursor: nat(o, 'cursor'),
          ...(token === undefined ? {} : { token: token as string }),
          ...(o.syncPayload === undefined ? {} : { syncPayload: o.syncPayload }),
        } satisfies HelloMessage
      }
      case 'push': {
        const reqId = nat(o, 'reqId')
        return { v: 1, type: 'push', reqId, events: decodeEvents(o.events, limits.maxEventsPerPush, reqId) } satisfies PushMessage
      }
      case 'pull': {
        if (o.live !== undefined && typeof o.live !== 'boolean') refuse('"live" must be a boolean')
        return { v: 1, type: 'pull', after: nat(o, 'after'), live: o.live === true } satisfies PullMessage
      }
      case 'ping':
      case 'pong':
        return { v: 1, type: o.type } satisfies PingMessage
      default:
        return refuse(`unknown message type ${JSON.stringify(o.type).slice(0, 40)}`)
    }
  })
}

function decodeServerEvent(value: unknown): ServerEvent & { principal?: string } {
  if (!isRecord(value)) refuse('an event is a JSON object')
  const seq = nat(value, 'seq', 1)
  const producerSeq = nat(value, 'producerSeq', 1)
  const eventId = str(value, 'eventId')
  const name = str(value, 'name', MAX_NAME_LENGTH)
  const args = value.args ?? null
  const clientId = str(value, 'clientId')
  const sessionId = str(value, 'sessionId')
  // who pushed it, as the server's authorize said: passed on to the app, never trusted for anything here.
  // Two literal shapes rather than a spread: this runs for every event of every page (1,000 clients × every write).
  return typeof value.principal === 'string'
    ? { seq, producerSeq, eventId, name, args, clientId, sessionId, principal: value.principal }
    : { seq, producerSeq, eventId, name, args, clientId, sessionId }
}

function decodeWireError(o: Record<string, unknown>): WireError {
  if (typeof o.code !== 'string' || !SYNC_ERROR_CODE_SET.has(o.code)) refuse(`unknown error code ${JSON.stringify(o.code)?.slice(0, 40)}`)
  const optionalNat = (key: string) =>
    typeof o[key] === 'number' && Number.isSafeInteger(o[key]) && (o[key] as number) >= 0 ? { [key]: o[key] as number } : {}
  return {
    code: o.code as SyncErrorCode,
    message: typeof o.message === 'string' ? o.message.slice(0, 2000) : String(o.code),
    ...(typeof o.reason === 'string' ? { reason: o.reason.slice(0, 2000) } : {}),
    ...optionalNat('index'),
    ...optionalNat('retryAfterMs'),
    ...optionalNat('expected'),
  }
}

function decodeLimits(value: unknown): SyncLimits {
  if (!isRecord(value)) refuse('"limits" must be an object')
  return {
    maxEventBytes: nat(value, 'maxEventBytes', 1),
    maxEventsPerPush: nat(value, 'maxEventsPerPush', 1),
    maxFrameBytes: nat(value, 'maxFrameBytes', 1),
    pullPageSize: nat(value, 'pullPageSize', 1),
  }
}

/** Decodes a message from the server; the client trusts the server no more than it must. */
export function decodeServerMessage(text: string): Decoded<ServerMessage> {
  return attempt(() => {
    const parsed = parseJson(text)
    if (!parsed.ok) refuse(parsed.reason)
    return decodeServerValue(parsed.value)
  })
}

/** As {@link decodeServerMessage}, from an already parsed value (HTTP bodies). */
export function decodeServerValue(value: unknown): ServerMessage {
  const o = envelope(value)
  switch (o.type) {
    case 'welcome':
      return { v: 1, type: 'welcome', backendId: str(o, 'backendId'), head: nat(o, 'head'), limits: decodeLimits(o.limits) }
    case 'pushAck': {
      if (!Array.isArray(o.assigned) || !o.assigned.every((n) => Number.isSafeInteger(n) && n >= 1))
        refuse('"assigned" must be an array of sequence numbers')
      return { v: 1, type: 'pushAck', reqId: nat(o, 'reqId'), assigned: o.assigned as number[] }
    }
    case 'pushError':
      return { v: 1, type: 'pushError', reqId: nat(o, 'reqId'), ...decodeWireError(o) }
    case 'error':
      return { v: 1, type: 'error', ...decodeWireError(o) }
    case 'events': {
      const batch = o.batch
      if (!Array.isArray(batch)) refuse('"batch" must be an array')
      const events: ServerEvent[] = []
      for (let i = 0; i < batch.length; i++) events.push(decodeServerEvent(batch[i]))
      return { v: 1, type: 'events', batch: events, head: nat(o, 'head'), remaining: nat(o, 'remaining') }
    }
    case 'upToDate':
      return { v: 1, type: 'upToDate', head: nat(o, 'head') }
    case 'ping':
    case 'pong':
      return { v: 1, type: o.type }
    default:
      return refuse(`unknown message type ${JSON.stringify(o.type).slice(0, 40)}`)
  }
}

/** The `SyncError` a wire refusal stands for. */
export function toSyncError(error: WireError): SyncError {
  return new SyncError(error.code, error.message, {
    ...(error.index === undefined ? {} : { index: error.index }),
    ...(error.reason === undefined ? {} : { reason: error.reason }),
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    ...(error.expected === undefined ? {} : { expected: error.expected }),
  })
}

/** The wire form of a `SyncError`. */
export function toWireError(error: SyncError): WireError {
  return {
    code: error.code,
    message: error.message,
    ...(error.index === undefined ? {} : { index: error.index }),
    ...(error.reason === undefined ? {} : { reason: error.reason }),
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    ...(error.expected === undefined ? {} : { expected: error.expected }),
  }
}

/** The HTTP status of a refusal (long-poll transport). */
export function httpStatusOf(code: SyncErrorCode): number {
  switch (code) {
    case 'Unauthorized':
      return 401
    case 'Forbidden':
      return 403
    case 'BackendIdMismatch':
    case 'ProducerGap':
    case 'ClientIdCollision':
      return 409
    case 'TooLarge':
      return 413
    case 'RateLimited':
      return 429
    case 'Invalid':
      return 422
    case 'Timeout':
      return 504
    default:
      return 400
  }
}
