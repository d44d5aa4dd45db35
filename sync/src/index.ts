/**
 * `@cairn/sync`: wire protocol v1 and the client transports (`makeWsSync`, `makeHttpSync`), both
 * implementing `@cairn/core`'s `SyncBackend`. The Node server is in `@cairn/sync/server`.
 *
 * @example
 * import WebSocket from 'ws'
 * import { makeWsSync } from '@cairn/sync'
 * const backend = makeWsSync({ url: 'ws://localhost:8787', getAuthToken: () => token, WebSocket, fallback: true })
 */
export * from './protocol.ts'
export { makeWsSync, type WsSyncOptions, type WebSocketLike, type WebSocketConstructor } from './client/ws-client.ts'
export { makeHttpSync, type HttpSyncOptions } from './client/http-client.ts'
export { backoffDelay, type BackoffOptions, type GetAuthToken } from './client/base-connection.ts'
