import { DEFAULT_SYNC_LIMITS, type AnyEventDef, type SyncLimits, type WireEvent } from '@cairn/core'
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
}

/** `authorize`'s answer: the principal, or a refusal (`Unauthorized`: bad token, `Forbidden`: no access to this store). */
export type AuthDecision<P> = { readonly principal: P } | { readonly refuse: 'Unauthorized' | 'Forbidden'; readonly message?: string }

export interface AuthorizeContext {
  readonly storeId: string
  /** From the `hello` message (WebSocket) or the `Authorization: Bearer` header (HTTP); never from a URL. */
  readonly token: string | undefined
  readonly transport: 'ws' | 'http'
  readonly remoteAddress: string
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
}

export function defaultPrincipalId(principal: unknown): string {
  if (typeof principal === 'string') return principal
  if (principal !== null && typeof principal === 'object' && typeof (principal as { id?: unknown }).id === 'string')
    return (principal as { id: string }).id
  return JSON.stringify(principal) ?? String(principal)
}
