/**
 * `@cairn/sync/server`: the Node sync server (WebSocket + HTTP long-poll) and its storages.
 *
 * @example
 * import { createSyncServer, sqliteStorage } from '@cairn/sync/server'
 * const server = await createSyncServer({ port: 8787, storage: sqliteStorage('./data/sync.db'), authorize: ({ token }) => (token === secret ? { principal: 'me' } : { refuse: 'Unauthorized' }) })
 */
export { createSyncServer, type SyncServer } from './create-server.ts'
export {
  DEFAULT_SERVER_LIMITS,
  type ServerLimits,
  type SyncServerOptions,
  type AuthDecision,
  type AuthorizeContext,
  type PushDecision,
  type PushContext,
} from './options.ts'
export type { SyncServerStats } from './service.ts'
export { CloseCode } from './ws-handler.ts'
export { memoryStorage } from '../storage/memory.ts'
export { sqliteStorage } from '../storage/sqlite.ts'
export { postgresStorage, type PostgresStorage, type PostgresStorageOptions } from '../storage/postgres.ts'
export type { SyncStorage, StoredEvent, StoreInfo, AppendResult, StoredPage } from '../storage/types.ts'
