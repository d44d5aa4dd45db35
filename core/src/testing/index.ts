/**
 * Test helpers shipped with Cairn: an in-memory sync server with a seeded fault layer, for
 * testing apps (and Cairn's own transports) without a network.
 *
 * @example
 * import { makeInMemorySyncServer } from '@cairn/core/testing'
 * const server = makeInMemorySyncServer({ seed: 1, faults: { drop: 0.1 } })
 * const store = await createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: 's', sync: { backend: server.backend() } })
 */
export {
  makeInMemorySyncServer,
  InMemorySyncServer,
  InMemorySyncBackend,
  type InMemorySyncServerOptions,
  type InMemorySyncStats,
  type NetworkFaults,
} from './memory-backend.ts'
export { MemorySyncStore } from './memory-server.ts'
