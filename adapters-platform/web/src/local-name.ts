// A store's local copy in this origin: by default one per store id; `localName` gives one store id
// several (e.g. simulated devices in one page), each with its own file, lock, channel and client id.
import { CairnError } from '@cairn/core'

/**
 * The key of a store's local copy: `storeId`, or `storeId@localName`. It names the OPFS pool
 * directory, the leader's Web Lock, the tabs' BroadcastChannel and the client id's IndexedDB key;
 * the sync server still sees `storeId`.
 */
export function localKey(storeId: string, localName: string | undefined): string {
  if (localName === undefined) return storeId
  if (typeof localName !== 'string' || localName.length === 0) {
    throw new CairnError(
      'InvalidLocalName',
      `Store "${storeId}": localName must be a non-empty string (got ${JSON.stringify(localName)}); leave it out for the store's one local copy.`,
    )
  }
  return `${storeId}@${localName}`
}
