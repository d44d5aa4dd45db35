import { CairnError, DEFAULT_SYNC_LIMITS, type AnyEventDef, type SyncLimits, type WireEvent } from '@cairn/core'
import type { SyncStorage } from '../storage/types.ts'

/** Limits of a sync server: the client-visible `SyncLimits` plus flood protection. */
export interface ServerLimits extends SyncLimits {
  /** Open WebSocket connections plus held long-polls, over all clients. */
  readonly maxConnections: number
  /** The same, per remote address. */
  readonly maxConnectionsPerAddress: number
  /** Pushes per second per connection (WebSocket) or per address (HTTP), with a burst of twice that. */
  readonly pushesPerSecond: number
  /** How long a live long-poll is held before it is answered empty with the head. */
  readonly longPollMs: number
  /** A WebSocket that has not said hello by then is closed. */
  readonly helloTimeoutMs: number
  /** A WebSocket silent for this long (no ping, no push) is closed as dead. */
  readonly idleTimeoutMs: number
  /** Malformed frames a connection may send before it is closed. */
  readonly maxProtocolErrors: number
  /** A client reading slower than this many unsent bytes is disconnected (it resumes from its cursor). */
  readonly maxBufferedBytes: number
  /**
   * Bytes of pushes a connection (WebSocket) or an address (HTTP) may send per second, with a burst
   * of twice that (at least one `maxFrameBytes` frame). A WebSocket over it is read more slowly
   * (TCP backpressure), an HTTP push is answered 429: one client cannot keep the server busy.
   */
  readonly pushBytesPerSecond: number
  /** Largest frame a WebSocket may send before its `hello` is answered (the hello with its token). */
  readonly maxHelloBytes: number
  /** All bytes held for connections that have not been welcomed yet, over the whole server. */
  readonly maxPreAuthBytes: number
  /** A request whose headers are not complete after this long is cut (slowloris). */
  readonly headersTimeoutMs: number
  /** A request (headers and body) not received completely after this long is cut. */
  readonly requestTimeoutMs: number
  /** Serialized pull pages kept for reuse, over all stores (least recently used stores are dropped first). */
  readonly pageCacheBytes: number
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  ...DEFAULT_SYNC_LIMITS,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 2_000,
  pushesPerSecond: 100,
  longPollMs: 20_000,
  helloTimeoutMs: 10_000,
  idleTimeoutMs: 35_000,
  maxProtocolErrors: 20,
  maxBufferedBytes: 16 * 1024 * 1024,
  pushBytesPerSecond: 1024 * 1024,
  maxHelloBytes: 16 * 1024,
  maxPreAuthBytes: 16 * 1024 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  pageCacheBytes: 64 * 1024 * 1024,
}

/** `authorize`'s answer: the principal, or a refusal (`Unauthorized`: bad token, `Forbidden`: no access to this store). */
export type AuthDecision<P> = { readonly principal: P } | { readonly refuse: 'Unauthorized' | 'Forbidden'; readonly message?: string }

export interface AuthorizeContext {
  readonly storeId: string
  /** From the `hello` message (WebSocket) or the `Authorization: Bearer` header (HTTP); never from a URL. */
  readonly token: string | undefined
  readonly transport: 'ws' | 'http'
  readonly remoteAddress: string
  /**
   * The client's `sync.syncPayload` (any JSON value the app sends beside its token: a tenant, an
   * app version), or undefined when it sent none. Untrusted input, as the token is.
   */
  readonly syncPayload: unknown
}

/** `authorizePush`'s answer: `true` accepts, `false` refuses as `Forbidden`, or a refusal with details. */
export type PushDecision =
  boolean | { readonly code: 'Forbidden' | 'Invalid'; readonly index?: number; readonly reason?: string; readonly message?: string }

export interface PushContext<P> {
  readonly storeId: string
  readonly principal: P
  readonly events: readonly WireEvent[]
}

export interface SyncServerOptions<P = unknown> {
  /** Port to listen on (0: an ephemeral one). Omit it to only use `handleRequest` / `handleUpgrade` in your own server. */
  readonly port?: number
  /** Default 127.0.0.1. */
  readonly host?: string
  readonly storage: SyncStorage
  /** Decides who may connect to a store; called on every (re)connect and HTTP request. */
  readonly authorize: (context: AuthorizeContext) => AuthDecision<P> | Promise<AuthDecision<P>>
  /** Decides whether a principal may append these events (after the schema checked them). */
  readonly authorizePush?: (context: PushContext<P>) => PushDecision | Promise<PushDecision>
  /** The app's schema (or just its `eventsByName`): unknown events and bad args are refused as `Invalid`. */
  readonly schema?: { readonly eventsByName: ReadonlyMap<string, AnyEventDef> }
  /** What is stamped on stored events as their principal. Default: a string principal itself, else its `id`, else its JSON. */
  readonly principalId?: (principal: P) => string
  readonly limits?: Partial<ServerLimits>
  /** Path prefix of the HTTP routes and the WebSocket endpoint, e.g. `/sync`. Default ''. */
  readonly basePath?: string
  /**
   * Web pages (the `Origin` header) that may use the server, e.g. `['https://app.example.com']`
   * or a RegExp; `'*'` allows every origin. Allowed origins get CORS answers (preflights included)
   * so the HTTP transport works cross-origin; others get 403, on HTTP and on the WebSocket upgrade.
   * Requests without `Origin` (not from a browser) are not affected. Default: no check and no CORS.
   */
  readonly allowedOrigins?: '*' | readonly (string | RegExp)[]
  /**
   * Reverse proxies whose `X-Forwarded-For` is believed (their addresses, or `'loopback'`): the
   * client's address, for the per-address limits and `authorize`, is then the last hop that is not
   * one of them. Default: none (the socket's address).
   */
  readonly trustProxy?: readonly string[]
  /** Where internal failures (storage, a throwing `authorize`) are reported with their detail. Default: stderr. */
  readonly logger?: SyncServerLogger
}

/** Receives what the server never tells its clients: internal failures with their context. */
export interface SyncServerLogger {
  error(message: string, context: Readonly<Record<string, unknown>>): void
}

export const stderrLogger: SyncServerLogger = {
  error(message, context) {
    console.error(`cairn-sync: ${message}`, context)
  },
}

/** Checks `limits` (and the other options) where they enter, so a typo fails at start with its name. */
export function checkServerOptions(options: SyncServerOptions<unknown>): ServerLimits {
  const fail = (message: string): never => {
    throw new CairnError('InvalidOption', `createSyncServer: ${message}`)
  }
  if (options === null || typeof options !== 'object') fail('pass an options object ({ storage, authorize, … }).')
  if (options.storage === null || typeof options.storage !== 'object')
    fail('"storage" is required, e.g. sqliteStorage(path) or memoryStorage().')
  if (typeof options.authorize !== 'function') fail('"authorize" must be a function ({ storeId, token }) => { principal } | { refuse }.')
  if (options.authorizePush !== undefined && typeof options.authorizePush !== 'function') fail('"authorizePush" must be a function.')
  if (options.logger !== undefined && typeof options.logger?.error !== 'function')
    fail('"logger" must have an error(message, context) method.')
  const origins = options.allowedOrigins
  if (
    origins !== undefined &&
    origins !== '*' &&
    !(Array.isArray(origins) && origins.every((o) => typeof o === 'string' || o instanceof RegExp))
  )
    fail(`"allowedOrigins" must be '*' or an array of origins (strings like 'https://app.example.com', or RegExps).`)
  if (options.trustProxy !== undefined && !(Array.isArray(options.trustProxy) && options.trustProxy.every((a) => typeof a === 'string')))
    fail(`"trustProxy" must be an array of proxy addresses (or 'loopback').`)
  const limits = options.limits ?? {}
  if (limits === null || typeof limits !== 'object') fail('"limits" must be an object, e.g. { maxEventsPerPush: 100 }.')
  for (const [key, value] of Object.entries(limits)) {
    if (value === undefined) continue
    if (!(key in DEFAULT_SERVER_LIMITS)) fail(`unknown limit "${key}"; the limits are ${Object.keys(DEFAULT_SERVER_LIMITS).join(', ')}.`)
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
      fail(`limits.${key} must be a positive integer, not ${JSON.stringify(value) ?? String(value)}.`)
  }
  const given = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) as Partial<ServerLimits>
  const merged: ServerLimits = { ...DEFAULT_SERVER_LIMITS, ...given }
  // a small maxFrameBytes alone lowers the defaults that must fit in a frame; only explicit contradictions fail
  Object.assign(merged, {
    maxEventBytes: given.maxEventBytes ?? Math.min(merged.maxEventBytes, merged.maxFrameBytes),
    maxHelloBytes: given.maxHelloBytes ?? Math.min(merged.maxHelloBytes, merged.maxFrameBytes),
  })
  if (merged.maxEventBytes > merged.maxFrameBytes)
    fail(`limits.maxEventBytes (${merged.maxEventBytes}) cannot exceed limits.maxFrameBytes (${merged.maxFrameBytes}).`)
  if (merged.maxHelloBytes > merged.maxFrameBytes)
    fail(`limits.maxHelloBytes (${merged.maxHelloBytes}) cannot exceed limits.maxFrameBytes (${merged.maxFrameBytes}).`)
  return merged
}

export function defaultPrincipalId(principal: unknown): string {
  if (typeof principal === 'string') return principal
  if (principal !== null && typeof principal === 'object' && typeof (principal as { id?: unknown }).id === 'string')
    return (principal as { id: string }).id
  return JSON.stringify(principal) ?? String(principal)
}
