import { newBackendId, pageEnd, planAppend } from './plan-append.ts'
import type { AppendResult, StoredEvent, StoredPage, StoreInfo, SyncStorage } from './types.ts'

interface MemoryStore {
  readonly backendId: string
  readonly log: StoredEvent[]
  readonly producers: Map<string, Map<number, number>>
}

/**
 * Storage in memory: for tests and throwaway servers (everything is lost when the process ends).
 *
 * @example
 * const server = await createSyncServer({ port: 0, storage: memoryStorage(), authorize: () => ({ principal: 'anyone' }) })
 */
export function memoryStorage(): SyncStorage {
  const stores = new Map<string, MemoryStore>()
  const get = (storeId: string): MemoryStore => {
    let store = stores.get(storeId)
    if (store === undefined) {
      store = { backendId: newBackendId(), log: [], producers: new Map() }
      stores.set(storeId, store)
    }
    return store
  }
  return {
    async info(storeId): Promise<StoreInfo> {
      const store = get(storeId)
      return { backendId: store.backendId, head: store.log.length }
    },
    async append(storeId, events, principal): Promise<AppendResult> {
      const store = get(storeId)
      const { assigned, fresh } = planAppend(
        events,
        store.log.length,
        {
          last: (clientId) => store.producers.get(clientId)?.size ?? 0,
          stored: (clientId, producerSeq) => {
            const seq = store.producers.get(clientId)?.get(producerSeq)
            return seq === undefined ? undefined : store.log[seq - 1]
          },
        },
        principal,
      )
      for (const e of fresh) {
        store.log.push(e)
        let seqs = store.producers.get(e.clientId)
        if (seqs === undefined) store.producers.set(e.clientId, (seqs = new Map()))
        seqs.set(e.producerSeq, e.seq)
      }
      return { assigned, appended: fresh.length, head: store.log.length }
    },
    async page(storeId, after, pageSize): Promise<StoredPage> {
      const store = get(storeId)
      const head = store.log.length
      const end = pageEnd(after, pageSize, head)
      return { events: after >= end ? [] : store.log.slice(after, end), head, remaining: Math.max(0, head - Math.max(end, after)) }
    },
    async wipe(storeId) {
      stores.delete(storeId)
    },
    async close() {},
  }
}
