// The client's id, kept in IndexedDB: one per browser profile and store, shared by its tabs, and
// kept where OPFS is unavailable (so an in-memory client keeps its id across reloads).
import { openDB } from 'idb'

const DB_NAME = 'cairn'
const STORE = 'clientIds'

function open() {
  return openDB(DB_NAME, 1, {
    upgrade(db) {
      db.createObjectStore(STORE)
    },
  })
}

/** The stored client id of `storeId`, or `fresh` stored as it (first use). */
export async function loadClientId(storeId: string, fresh: string): Promise<string> {
  const db = await open()
  try {
    const tx = db.transaction(STORE, 'readwrite')
    const known = (await tx.store.get(storeId)) as string | undefined
    if (typeof known === 'string' && known.length > 0) {
      await tx.done
      return known
    }
    await tx.store.put(fresh, storeId)
    await tx.done
    return fresh
  } finally {
    db.close()
  }
}

/** Records the id the leader uses (it changes after a client id collision on the server). */
export async function saveClientId(storeId: string, clientId: string): Promise<void> {
  const db = await open()
  try {
    await db.put(STORE, clientId, storeId)
  } finally {
    db.close()
  }
}

export async function deleteClientId(storeId: string): Promise<void> {
  const db = await open()
  try {
    await db.delete(STORE, storeId)
  } finally {
    db.close()
  }
}
