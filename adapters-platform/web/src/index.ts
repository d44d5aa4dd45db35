export { makePersistedAdapter, type PersistedAdapterOptions, type WebLeaderPort, type WorkerSource } from './persisted-adapter.ts'
export { resetPersistence } from './reset.ts'
export type { StorageMode } from './wire.ts'
