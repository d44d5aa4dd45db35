// Test helper: rewrites a store's OPFS file header as a newer (or foreign) version would leave it.
import { loadSqlite, SqliteDb } from '@cairn/core'
import { poolDirectory } from '../../src/opfs-storage.ts'

self.onmessage = async (e: MessageEvent<{ storeId: string; userVersion: number }>) => {
  try {
    const sqlite3 = await loadSqlite()
    const dir = poolDirectory(e.data.storeId)
    const pool = await sqlite3.installOpfsSAHPoolVfs({ name: `cairn-sahpool${dir}`, directory: dir })
    const db = await SqliteDb.open({ filename: '/cairn.db', vfs: pool.vfsName })
    db.exec(`PRAGMA locking_mode = EXCLUSIVE; PRAGMA user_version = ${e.data.userVersion}`)
    db.close()
    pool.pauseVfs()
    postMessage('ok')
  } catch (error) {
    postMessage(`failed: ${(error as Error).message}`)
  }
}
