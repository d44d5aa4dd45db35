// Checkpoints off the event loop: a worker thread copies the WAL into the database, so the WAL
// stays at its working size however many commits the server makes, and a worker that fails hands
// checkpoints back to SQLite.
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { BACKLOG_ROUNDS, Checkpointer } from '../src/storage/checkpointer.ts'
import { sqliteStorage } from '../src/storage/sqlite.ts'
import { waitFor } from './helpers.ts'

const dir = mkdtempSync(join(tmpdir(), 'cairn-checkpoint-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const instantSync = (_fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => callback(null)
const ev = (producerSeq: number) => ({
  eventId: `e${producerSeq}`,
  producerSeq,
  name: 'v1.Thing',
  args: { n: producerSeq },
  clientId: 'c',
  sessionId: 's',
})

describe('Checkpointer', () => {
  it('copies the WAL into the database from a worker and reports the frames', async () => {
    const path = join(dir, 'unit.db')
    const db = new Database(path)
    db.pragma('journal_mode = WAL')
    db.pragma('wal_autocheckpoint = 0')
    db.exec('CREATE TABLE t (x)')
    for (let i = 0; i < 50; i++) db.prepare('INSERT INTO t VALUES (?)').run(i)
    const failures: Error[] = []
    const checkpointer = new Checkpointer(path, (e) => failures.push(e))
    const result = await checkpointer.checkpoint()
    expect(result.log).toBeGreaterThanOrEqual(50)
    expect(result.checkpointed).toBe(result.log)
    await checkpointer.close()
    await expect(checkpointer.checkpoint()).rejects.toThrow(/closed/)
    expect(failures).toEqual([])
    db.close()
  })

  it('holds appends while a running checkpoint lags BACKLOG_ROUNDS rounds behind, then lets them go', async () => {
    const path = join(dir, 'backlog.db')
    const db = new Database(path)
    db.pragma('journal_mode = WAL')
    db.pragma('wal_autocheckpoint = 0')
    db.exec('CREATE TABLE t (x)')
    const failures: Error[] = []
    const checkpointer = new Checkpointer(path, (e) => failures.push(e), 2)
    // the worker answers only once this task yields: here it lags behind every commit
    for (let i = 0; i < 2; i++) checkpointer.committed()
    expect(checkpointer.holding).toBe(false)
    for (let i = 0; i < 2 * BACKLOG_ROUNDS - 1; i++) checkpointer.committed()
    expect(checkpointer.holding).toBe(false)
    checkpointer.committed()
    expect(checkpointer.holding).toBe(true)
    let resumed = false
    checkpointer.whenResumed(() => (resumed = true))
    expect(resumed).toBe(false)
    await waitFor(
      () => resumed,
      () => 'the held append to go on',
    )
    expect(checkpointer.holding).toBe(false)
    await checkpointer.close()
    expect(failures).toEqual([])
    db.close()
  })

  it('reports a worker that cannot open the database, and rejects waiting callers', async () => {
    let failure: Error | undefined
    const checkpointer = new Checkpointer(join(dir, 'missing', 'dir', 'x.db'), (e) => (failure = e))
    await expect(checkpointer.checkpoint()).rejects.toThrow(/checkpoint worker stopped/)
    expect(failure?.message).toMatch(/checkpoint worker stopped/)
  })
})

describe('sqliteStorage checkpoints', () => {
  it('keeps the WAL from growing over thousands of commits, with every event stored', async () => {
    const path = join(dir, 'storage.db')
    const storage = sqliteStorage(path, { syncWal: instantSync })
    // each append in its own commit (awaited one by one), up to ~10 WAL frames each
    for (let i = 1; i <= 1_000; i++) await storage.append('a', [ev(i)], 'p')
    const early = statSync(`${path}-wal`).size // the worker's first round starts late (it boots)
    for (let i = 1_001; i <= 4_000; i++) await storage.append('a', [ev(i)], 'p')
    // without checkpoints 3,000 more commits would add ~100 MB; restarted, the WAL is reused from its start
    expect(statSync(`${path}-wal`).size).toBeLessThanOrEqual(early * 1.25)
    await storage.close()
    const reopened = sqliteStorage(path, { syncWal: instantSync })
    const page = await reopened.page('a', 3_900, 200)
    expect([page.head, page.events.length, page.events.at(-1)?.seq]).toEqual([4_000, 100, 4_000])
    await reopened.close()
  })
})
