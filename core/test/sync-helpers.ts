import {
  createStorePromise,
  formatSeqNum,
  queryDb,
  makeInMemoryAdapter,
  type Adapter,
  type BackendIdMismatchPolicy,
  type Store,
} from '@cairn/core'
import type { InMemorySyncBackend, InMemorySyncServer } from '@cairn/core/testing'
import { schema } from './fixtures.ts'

export interface Client {
  readonly name: string
  readonly store: Store<typeof schema>
  readonly backend: InMemorySyncBackend
  readonly adapter: Adapter
  readonly errors: unknown[]
}

/** A client: its own adapter (leader database) and backend, syncing store `storeId` with `server`. */
export async function makeClient(
  server: InMemorySyncServer,
  name: string,
  options: { storeId?: string; adapter?: Adapter; backend?: InMemorySyncBackend; onBackendIdMismatch?: BackendIdMismatchPolicy } = {},
): Promise<Client> {
  const adapter = options.adapter ?? makeInMemoryAdapter()
  const backend = options.backend ?? server.backend({ name })
  const errors: unknown[] = []
  const store = await createStorePromise({
    schema,
    adapter,
    storeId: options.storeId ?? 'shared',
    onError: (e) => errors.push(e),
    sync: { backend, onBackendIdMismatch: options.onBackendIdMismatch ?? 'shutdown', pushTimeoutMs: 2_000 },
  })
  return { name, store, backend, adapter, errors }
}

/** The synced state of a store, as one comparable string (every synced table, sorted). */
export function stateOf(store: Store): string {
  return JSON.stringify({
    todos: store.query(queryDb({ query: 'SELECT * FROM todos ORDER BY id' })),
    notes: store.query(queryDb({ query: 'SELECT * FROM notes ORDER BY id' })),
    stats: store.query(queryDb({ query: 'SELECT * FROM stats ORDER BY id' })),
  })
}

/** The synced part of a store's eventlog as `e3 <eventId> confirmed` lines. */
export async function syncedLog(store: Store): Promise<string[]> {
  return (await store.readEventlog()).filter((e) => !e.clientOnly).map((e) => `${formatSeqNum(e.seqNum)} ${e.eventId} ${e.status}`)
}

/** Runs macrotasks until `condition` holds (no sleeping on the clock), or fails with `describe()`. */
export async function until(condition: () => boolean, describe: () => string = () => '', maxTicks = 5_000): Promise<void> {
  for (let i = 0; i < maxTicks; i++) {
    if (condition()) return
    await new Promise((resolve) => setTimeout(resolve, 0))
  }
  throw new Error(`condition not met after ${maxTicks} ticks ${describe()}`)
}
