/**
 * `@cairn/sync`: wire protocol v1, the client transports (`makeWsSync`, `makeHttpSync`) and, under
 * `@cairn/sync/server`, the Node sync server.
 */
export * from './protocol.ts'
