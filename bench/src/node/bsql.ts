// The floor: better-sqlite3 (native SQLite) running by hand the statements Cairn's leader runs for
// an append (eventlog rows, the state insert, the three sync-metadata upserts) in one
// transaction, into one file with the same durability (WAL, synchronous=NORMAL, EXCLUSIVE, an
// fdatasync of the WAL in libuv's pool after each commit, awaited). Boot = open + first query;
// rebuild = drop the state table and replay the log's inserts in one transaction.
import { fdatasync, openSync, closeSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { makeTodos, type TodoArgs } from '../data.ts'
import { cpuMsSince, peakRssMb } from '../stats.ts'
import { assert } from '../types.ts'
import { timePhases } from './phases.ts'
import type { NodeSystem } from './types.ts'

const DDL = `
CREATE TABLE IF NOT EXISTS __cairn_eventlog (
  seq_global INTEGER NOT NULL, seq_client INTEGER NOT NULL, rebase_generation INTEGER NOT NULL,
  name TEXT NOT NULL, args TEXT NOT NULL, event_id TEXT NOT NULL UNIQUE, client_id TEXT NOT NULL,
  session_id TEXT NOT NULL, client_only INTEGER NOT NULL, producer_seq INTEGER, status TEXT NOT NULL,
  PRIMARY KEY (seq_global, seq_client));
CREATE INDEX IF NOT EXISTS __cairn_eventlog_pending ON __cairn_eventlog (status) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS __cairn_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS todos (id TEXT PRIMARY KEY, text TEXT NOT NULL DEFAULT '', completed INTEGER NOT NULL DEFAULT 0, createdAt TEXT);
`

function open(dir: string) {
  const file = path.join(dir, 'bench.sqlite')
  const db = new Database(file)
  db.pragma('locking_mode = EXCLUSIVE')
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(DDL)
  const insertEvent = db.prepare(
    `INSERT INTO __cairn_eventlog (seq_global, seq_client, rebase_generation, name, args, event_id, client_id, session_id, client_only, producer_seq, status) VALUES (?, 0, 0, 'v1.TodoCreated', ?, ?, 'client', 'session', 0, ?, 'confirmed')`,
  )
  const insertTodo = db.prepare('INSERT INTO todos (id, text, createdAt) VALUES (?, ?, ?)')
  const setMeta = db.prepare('INSERT INTO __cairn_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
  let seq = Number((db.prepare('SELECT max(seq_global) AS n FROM __cairn_eventlog').get() as { n: number | null }).n ?? 0)
  let walFd: number | undefined
  const append = db.transaction((batch: readonly TodoArgs[]) => {
    for (const a of batch) {
      seq++
      insertEvent.run(seq, JSON.stringify(a), `event-${seq}`, seq)
      insertTodo.run(a.id, a.text, a.createdAt)
    }
    setMeta.run('upstreamHead', String(seq))
    setMeta.run('rebaseGeneration', '0')
    setMeta.run('producerSeq', String(seq))
  })
  /** One transaction, then an fdatasync of the WAL off the event loop. */
  const commit = (batch: readonly TodoArgs[]) => {
    append(batch)
    walFd ??= openSync(`${file}-wal`, 'r')
    const fd = walFd
    return new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())))
  }
  const close = () => {
    if (walFd !== undefined) closeSync(walFd)
    db.close()
  }
  return { db, commit, close }
}

export const bsql: NodeSystem = {
  async throughput(p, dir) {
    const { commit, close } = open(dir)
    const t = await timePhases(p.throughputEvents, p.warmupEvents, p.perCommit, commit)
    close()
    return { metrics: { events_per_s: t.per_s, cold_events_per_s: t.cold_per_s, cpu_ms: t.cpu_ms, rss_mb: peakRssMb() } }
  },
  async singles(p, dir) {
    const { commit, close } = open(dir)
    const t = await timePhases(p.singles, p.warmupSingles, 1, commit)
    close()
    return { metrics: { commits_per_s: t.per_s, cold_commits_per_s: t.cold_per_s, cpu_ms: t.cpu_ms, rss_mb: peakRssMb() } }
  },
  async bulk(p, dir) {
    const { commit, close } = open(dir)
    const todos = makeTodos(p.bulkEvents)
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    let last: Promise<void> = Promise.resolve()
    for (let i = 0; i < todos.length; i += p.perCommit) last = commit(todos.slice(i, i + p.perCommit))
    await last
    const ms = performance.now() - t0
    const cpu = cpuMsSince(c0)
    // then all of it again as one commit (one transaction)
    const more = makeTodos(p.bulkEvents, 2, 'u')
    const t1 = performance.now()
    await commit(more)
    const oneMs = performance.now() - t1
    close()
    return { metrics: { events_per_s: (todos.length / ms) * 1000, one_commit_events_per_s: (more.length / oneMs) * 1000, cpu_ms: cpu, rss_mb: peakRssMb() } }
  },
  async setup(p, dir) {
    const { commit, close } = open(dir)
    const todos = makeTodos(p.persist)
    const t0 = performance.now()
    for (let i = 0; i < todos.length; i += 1_000) await commit(todos.slice(i, i + 1_000))
    const ms = performance.now() - t0
    close()
    return { metrics: { setup_ms: ms } }
  },
  async boot(p, dir) {
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    const { db, close } = open(dir)
    const rows = (db.prepare('SELECT count(*) AS n FROM todos').get() as { n: number }).n
    const ms = performance.now() - t0
    const cpu = cpuMsSince(c0)
    assert(rows === p.persist, `bsql boot: ${rows} todos, expected ${p.persist}`)
    const rss = peakRssMb()
    close()
    return { metrics: { module_ms: 0, boot_ms: ms, cpu_ms: cpu, rss_mb: rss } }
  },
  async rebuild(p, dir) {
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    const { db, close } = open(dir)
    db.transaction(() => {
      db.exec('DROP TABLE todos')
      db.exec(`CREATE TABLE todos (id TEXT PRIMARY KEY, text TEXT NOT NULL DEFAULT '', completed INTEGER NOT NULL DEFAULT 0, createdAt TEXT)`)
      db.exec('CREATE INDEX todos_text ON todos (text)')
      const insert = db.prepare('INSERT INTO todos (id, text, createdAt) VALUES (?, ?, ?)')
      // in pages, as Cairn's leader reads it (one connection cannot write while a read is open)
      const page = db.prepare(
        `SELECT seq_global, args FROM __cairn_eventlog WHERE status = 'confirmed' AND seq_global > ? ORDER BY seq_global, seq_client LIMIT 500`,
      )
      for (let after = 0; ; ) {
        const rows = page.all(after) as { seq_global: number; args: string }[]
        if (rows.length === 0) break
        for (const row of rows) {
          const a = JSON.parse(row.args) as TodoArgs
          insert.run(a.id, a.text, a.createdAt)
        }
        after = rows[rows.length - 1]!.seq_global
      }
    })()
    const rows = (db.prepare('SELECT count(*) AS n FROM todos').get() as { n: number }).n
    const ms = performance.now() - t0
    const cpu = cpuMsSince(c0)
    assert(rows === p.persist, `bsql rebuild: ${rows} todos, expected ${p.persist}`)
    const rss = peakRssMb()
    close()
    return { metrics: { rebuild_ms: ms, cpu_ms: cpu, rss_mb: rss } }
  },
}
