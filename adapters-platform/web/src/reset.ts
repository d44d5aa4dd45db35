// Development helper: deletes a store's local data (its OPFS file and client id).
import { CairnError } from '@cairn/core'
import { deleteClientId } from './client-id.ts'
import { localKey } from './local-name.ts'
import { poolDirectory } from './opfs-storage.ts'

/**
 * Deletes the local data of `storeId` in this browser profile: the leader's OPFS file (eventlog,
 * state, events not yet synced) and the client id. For development and for a file written by an
 * incompatible version. Fails, deleting nothing, while a tab has the store open. With `localName`
 * it deletes that local copy only (see `makePersistedAdapter({ localName })`).
 *
 * @example
 * await resetPersistence({ storeId: 'todos' })
 * location.reload()
 * @example
 * await resetPersistence({ storeId: 'todos', localName: 'device-b' }) // the other local copies stay
 */
export async function resetPersistence(options: { readonly storeId: string; readonly localName?: string }): Promise<void> {
  const storeId = localKey(options.storeId, options.localName)
  const done = await navigator.locks.request(`cairn-leader:${storeId}`, { ifAvailable: true }, async (lock) => {
    if (lock === null) return false
    if (typeof navigator.storage?.getDirectory === 'function') {
      const root = await navigator.storage.getDirectory()
      try {
        await root.removeEntry(poolDirectory(storeId), { recursive: true })
      } catch (e) {
        if (!(e instanceof DOMException && e.name === 'NotFoundError')) throw e
      }
    }
    await deleteClientId(storeId)
    return true
  })
  if (!done) {
    throw new CairnError(
      'StoreInUse',
      `resetPersistence: store "${storeId}" is open in a tab of this app (it holds the store's leader lock); shut those stores down (store.shutdown()) or close the tabs, then reset.`,
    )
  }
}
