import { mkdirSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { newBackendId, pageEnd, planAppend } from './plan-append.ts'
import type { AppendResult, StoredEvent, StoredPage, StoreInfo, SyncStorage } from './types.ts'
import { Checkpointer, CHECKPOINT_PAGES } from './checkpointer.ts'
import { DurableHeads, WalSync } from './wal-sync.ts'

const DDL = `
CREATE TABLE IF NOT EXISTS stores (
  store_id TEXT PRIMARY KEY,
  backend_id TEXT NOT NULL,
  head INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  store_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  producer_seq INTEGER NOT NULL,
  session_id TEXT NOT NULL,
  name TEXT NOT NULL,
  args TEXT NOT NULL,
  principal TEXT,
  PRIMARY KEY (store_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS events_producer ON events (store_id, client_id, producer_seq);
`

interface EventRow {
  seq: number
  event_id: string
  client_id: string
  producer_seq: number
  session_id: string
  name: string
  args: string
  principal: string | null
}

export interface SqliteStorageOptions {
  /** Replaces `fs.fdatasync` of the WAL file (tests hold syncs back or fail them). */
  readonly syncWal?: (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => void
  /** Checkpoint the WAL from a worker thread (default `true`); `false` leaves it to SQLite, on the event loop. */
  readonly checkpointInWorker?: boolean
}

/**
 * Storage in one SQLite file (better-sqlite3), WAL journal. An append is on disk before the server
 * acks it, and an event is served (pages, `info().head`) only once it is on disk: commits write the
 * WAL (`synchronous=NORMAL`) and `WalSync` makes them durable with an `fdatasync` off the event loop
 * (see there for why). Sequence numbers come from the store's `head` row inside the append's
 * transaction: gap-free and in commit order, never from a rowid.
 *
 * @example
 * const server = await createSyncServer({ port: 8787, storage: sqliteStorage('./data/sync.db'), authorize })
 */
export function sqliteStorage(path: string, options: SqliteStorageOptions = {}): SyncStorage {
  const inMemory = path === ':memory:' || path === ''
  if (!inMemory) mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  // durability comes from WalSync's fdatasync, awaited before every ack and every read of new events
  db.pragma('synchronous = NORMAL')
  db.pragma('busy_timeout = 5000')
  db.exec(DDL)
  const walSync = new WalSync(inMemory ? undefined : `${path}-wal`, options.syncWal)
  if (!inMemory) pregrowWal(db, `${path}-wal`)
  walSync.open()
  // checkpoints run in a worker thread, never on the event loop; if it fails, SQLite's own take over
  let checkpointer: Checkpointer | undefined
  if (!inMemory && options.checkpointInWorker !== false) {
    const onMainThread = (error: Error) => {
      console.error(`${error.message}; checkpoints run on the main thread from now on`)
      checkpointer = undefined
      db.pragma(`wal_autocheckpoint = ${CHECKPOINT_PAGES}`)
    }
    try {
      checkpointer = new Checkpointer(path, onMainThread)
      db.pragma('wal_autocheckpoint = 0')
    } catch (e) {
      // no worker here (a bundle without the driver's file, a runtime without worker_threads)
      onMainThread(new Error(`sync storage: cannot start the checkpoint worker (${(e as Error)?.message ?? e})`, { cause: e }))
    }
  }

  /** Numbers a commit that just happened (for WalSync) and counts it towards the next checkpoint. */
  const committed = () => {
    checkpointer?.committed()
    return walSync.committed()
  }

  const selectStore = db.prepare<[string], { backend_id: string; head: number }>('SELECT backend_id, head FROM stores WHERE store_id = ?')
  const insertStore = db.prepare<[string, string]>('INSERT INTO stores (store_id, backend_id, head) VALUES (?, ?, 0)')
  const setHead = db.prepare<[number, string]>('UPDATE stores SET head = ? WHERE store_id = ?')
  const lastOf = db.prepare<[string, string], { last: number | null }>(
    'SELECT max(producer_seq) AS last FROM events WHERE store_id = ? AND client_id = ?',
  )
  const storedAt = db.prepare<[string, string, number], { event_id: string; seq: number }>(
    'SELECT event_id, seq FROM events WHERE store_id = ? AND client_id = ? AND producer_seq = ?',
  )
  const insertEvent = db.prepare<[string, number, string, string, number, string, string, string, string | null]>(
    'INSERT INTO events (store_id, seq, event_id, client_id, producer_seq, session_id, name, args, principal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  )
  const selectPage = db.prepare<[string, number, number], EventRow>(
    'SELECT seq, event_id, client_id, producer_seq, session_id, name, args, principal FROM events WHERE store_id = ? AND seq > ? AND seq <= ? ORDER BY seq',
  )
  const deleteEvents = db.prepare<[string]>('DELETE FROM events WHERE store_id = ?')
  const deleteStore = db.prepare<[string]>('DELETE FROM stores WHERE store_id = ?')

  // an event is served (page, info) only once it is on disk
  const heads = new DurableHeads(walSync, (storeId) => selectStore.get(storeId)?.head ?? 0)

  const info = (storeId: string): StoreInfo => {
    const row = selectStore.get(storeId)
    if (row !== undefined) return { backendId: row.backend_id, head: row.head }
    const backendId = newBackendId()
    insertStore.run(storeId, backendId)
    return { backendId, head: 0 }
  }

  const append = db.transaction(
    (storeId: string, events: Parameters<SyncStorage['append']>[1], principal: string | undefined): AppendResult => {
      const head = info(storeId).head
      const { assigned, fresh } = planAppend(
        events,
        head,
        {
          last: (clientId) => lastOf.get(storeId, clientId)?.last ?? 0,
          stored: (clientId, producerSeq) => {
            const row = storedAt.get(storeId, clientId, producerSeq)
            return row === undefined ? undefined : { eventId: row.event_id, seq: row.seq }
          },
        },
        principal,
      )
      for (const e of fresh) {
        insertEvent.run(
          storeId,
          e.seq,
          e.eventId,
          e.clientId,
          e.producerSeq,
          e.sessionId,
          e.name,
          JSON.stringify(e.args ?? null),
          principal ?? null,
        )
      }
      if (fresh.length > 0) setHead.run(head + fresh.length, storeId)
      return { assigned, appended: fresh.length, head: head + fresh.length }
    },
  )

  const toEvent = (r: EventRow): StoredEvent => ({
    seq: r.seq,
    eventId: r.event_id,
    producerSeq: r.producer_seq,
    name: r.name,
    args: JSON.parse(r.args),
    clientId: r.client_id,
    sessionId: r.session_id,
    ...(r.principal === null ? {} : { principal: r.principal }),
  })

  // Group commit: the appends that arrive in one turn of the event loop share one transaction, and
  // the transactions committed while a sync runs share the next one (WalSync). Each append runs in
  // its own savepoint (a nested better-sqlite3 transaction): a refused push rolls back alone and
  // the others still commit.
  type Pending = {
    storeId: string
    events: Parameters<SyncStorage['append']>[1]
    principal: string | undefined
    resolve: (r: AppendResult) => void
    reject: (e: unknown) => void
  }
  let queue: Pending[] = []
  const commitGroup = db.transaction((group: Pending[]) => {
    const outcomes: ({ ok: true; result: AppendResult; created: boolean } | { ok: false; error: unknown })[] = []
    for (const p of group) {
      heads.willCommit(p.storeId)
      const existed = selectStore.get(p.storeId) !== undefined
      try {
        outcomes.push({ ok: true, result: append(p.storeId, p.events, p.principal), created: !existed })
      } catch (error) {
        outcomes.push({ ok: false, error })
      }
    }
    return outcomes
  })
  const flush = () => {
    // a checkpoint is catching up with the WAL: these appends go once it is done
    if (checkpointer?.holding) return checkpointer.whenResumed(flush)
    if (queue.length === 0) return
    const group = queue
    queue = []
    let outcomes
    try {
      if (walSync.failed !== undefined) throw walSync.failed
      outcomes = commitGroup.immediate(group)
    } catch (error) {
      for (const p of group) p.reject(error)
      return
    }
    const commit = committed()
    outcomes.forEach((o, i) => {
      if (o.ok && o.result.appended > 0) heads.committed(commit, group[i]!.storeId, o.result.head, o.created)
    })
    // answered only once the commit is on disk; a push of re-sent events too (their first commit may still be in flight)
    walSync.whenDurable(commit).then(
      () => outcomes.forEach((o, i) => (o.ok ? group[i]!.resolve(o.result) : group[i]!.reject(o.error))),
      (error) => group.forEach((p) => p.reject(error)),
    )
  }

  let closed = false
  const storage: SyncStorage = {
    async info(storeId) {
      if (walSync.failed !== undefined) throw walSync.failed
      if (selectStore.get(storeId) === undefined) {
        db.transaction(() => info(storeId)).immediate()
        heads.committed(committed(), storeId, 0, true)
      }
      // a client records the backendId: it must be on disk first (the row may come from an append in flight)
      await walSync.whenDurable(heads.bornAt(storeId))
      const row = selectStore.get(storeId)
      // wiped meanwhile: as a fresh store
      return row === undefined ? storage.info(storeId) : { backendId: row.backend_id, head: heads.head(storeId) }
    },
    append(storeId, events, principal) {
      return new Promise<AppendResult>((resolve, reject) => {
        queue.push({ storeId, events, principal, resolve, reject })
        if (queue.length === 1) setImmediate(flush)
      })
    },
    async page(storeId, after, pageSize): Promise<StoredPage> {
      if (walSync.failed !== undefined) throw walSync.failed
      const head = heads.head(storeId)
      const end = pageEnd(after, pageSize, head)
      const events = after >= end ? [] : selectPage.all(storeId, after, end).map(toEvent)
      return { events, head, remaining: Math.max(0, head - Math.max(end, after)) }
    },
    async wipe(storeId) {
      db.transaction(() => {
        deleteEvents.run(storeId)
        deleteStore.run(storeId)
      }).immediate()
      const commit = committed()
      heads.wiped(commit, storeId)
      await walSync.whenDurable(commit)
    },
    async close() {
      if (closed) return
      closed = true
      await checkpointer?.close() // lets appends held for a checkpoint go first
      if (queue.length > 0) flush()
      await walSync.close()
      db.close()
    },
  }
  return storage
}

/**
 * Grows a new WAL file to about the size it reaches before its first checkpoint anyway (SQLite
 * then reuses it from the start, it never shrinks it). Commits then overwrite blocks the file
 * already has, and their `fdatasync` flushes data only; a commit that extends the file also waits
 * for a filesystem journal commit (measured 3-10× slower on a busy disk). The pages of the scratch
 * blob end up free in the database, where the first events reuse them.
 */
function pregrowWal(db: Database.Database, walPath: string): void {
  const pageSize = db.pragma('page_size', { simple: true }) as number
  const checkpointPages = CHECKPOINT_PAGES
  const bytes = 32 + (checkpointPages + 64) * (pageSize + 24)
  if (statSync(walPath, { throwIfNoEntry: false })?.size! >= bytes) return
  db.exec('CREATE TABLE IF NOT EXISTS wal_pregrow (b BLOB)')
  db.prepare('INSERT INTO wal_pregrow VALUES (zeroblob(?))').run(checkpointPages * pageSize)
  db.exec('DROP TABLE wal_pregrow')
}
