// The floor: sqlite-wasm on opfs-sahpool in a Worker, by hand, doing what the leader's append does
// for one commit (log the events, write their rows) in one transaction, with the same pragmas.
// Started with the name `raw-gathered`, its pool gathers each transaction's writes into one OPFS
// write as the adapter's does (its own directory, so the two never share files).
import sqlite3InitModule from '@sqlite.org/sqlite-wasm'
import { batchWrites } from '../../../../adapters-platform/web/src/batched-writes.ts'

const gathered = self.name === 'raw-gathered'

type Msg =
  | { op: 'open'; reset: boolean }
  | { op: 'commit'; events: { id: string; text: string; eventId: string }[] }
  | { op: 'query' }

const ready = (async () => {
  const sqlite3 = await sqlite3InitModule()
  const pool = await sqlite3.installOpfsSAHPoolVfs({
    name: gathered ? 'raw-sahpool-gathered' : 'raw-sahpool',
    directory: gathered ? '.raw-bench-gathered' : '.raw-bench',
    initialCapacity: 4,
  })
  if (gathered) batchWrites(sqlite3, pool.vfsName)
  return { sqlite3, pool }
})()
let db: InstanceType<Awaited<typeof ready>['sqlite3']['oo1']['DB']> | undefined
let seq = 0
let logStmt: ReturnType<NonNullable<typeof db>['prepare']> | undefined
let rowStmt: typeof logStmt

self.onmessage = async (e: MessageEvent<Msg>) => {
  const { sqlite3, pool } = await ready
  const m = e.data
  if (m.op === 'open') {
    if (m.reset) await pool.wipeFiles()
    db = new pool.OpfsSAHPoolDb('/raw.db')
    db.exec('PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL')
    db.exec(`CREATE TABLE IF NOT EXISTS eventlog (seq INTEGER PRIMARY KEY, name TEXT NOT NULL, args TEXT NOT NULL, event_id TEXT NOT NULL UNIQUE);
             CREATE TABLE IF NOT EXISTS todos (id TEXT PRIMARY KEY, text TEXT NOT NULL DEFAULT '')`)
    seq = Number(db.selectValue('SELECT coalesce(max(seq), 0) FROM eventlog'))
    postMessage({ op: 'open' })
    return
  }
  const d = db!
  if (m.op === 'commit') {
    const log = (logStmt ??= d.prepare('INSERT INTO eventlog (seq, name, args, event_id) VALUES (?, ?, ?, ?)'))
    const row = (rowStmt ??= d.prepare('INSERT INTO todos (id, text) VALUES (?, ?)'))
    d.exec('BEGIN')
    for (const ev of m.events) {
      log.bind([++seq, 'v1.TodoCreated', JSON.stringify({ id: ev.id, text: ev.text }), ev.eventId]).stepReset()
      row.bind([ev.id, ev.text]).stepReset()
    }
    d.exec('COMMIT')
    postMessage({ op: 'commit' })
    return
  }
  const rows = d.selectObjects('SELECT id, text FROM todos ORDER BY id LIMIT 20')
  postMessage({ op: 'query', rows })
  void sqlite3
}
