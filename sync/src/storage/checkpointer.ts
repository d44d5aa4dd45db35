import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/** WAL pages after which SQLite would checkpoint on its own (its default `wal_autocheckpoint`). */
export const CHECKPOINT_PAGES = 1000

/** Rounds of commits a running checkpoint may fall behind before appends wait for it. */
export const BACKLOG_ROUNDS = 3

// The worker's source, run as CommonJS (`eval`). It opens its own connection and, on each
// request, copies the WAL's frames into the database (PASSIVE: it never waits for or blocks the
// writer). With synchronous=NORMAL SQLite syncs the WAL before and the database after it.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.path)
db.pragma('busy_timeout = 5000')
db.pragma('synchronous = NORMAL')
db.pragma('wal_autocheckpoint = 0')
parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close()
    parentPort.close()
    return
  }
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)')
    parentPort.postMessage({ ok: true, log: result.log, checkpointed: result.checkpointed })
  } catch (error) {
    parentPort.postMessage({ ok: false, message: String(error && error.message || error) })
  }
})
`

interface Waiter {
  resolve(result: CheckpointResult): void
  reject(error: Error): void
}

/** What one checkpoint did: WAL frames in the log, and how many of them are in the database now. */
export interface CheckpointResult {
  readonly log: number
  readonly checkpointed: number
}

/**
 * Checkpoints a WAL database from a worker thread, so the server's event loop never runs one: a
 * checkpoint reads about `CHECKPOINT_PAGES` pages, writes them to the database and syncs it twice,
 * which on a busy disk stalls for tens of milliseconds. The caller turns SQLite's own checkpoints
 * off (`wal_autocheckpoint = 0`) and calls `committed()` after each commit.
 *
 * SQLite restarts the WAL from its start only when a writer finds every frame copied; under a
 * steady load the writer always has frames newer than a checkpoint running beside it, and the WAL
 * would grow without end. So a round has two runs: the first copies the bulk while the writer goes
 * on; if it could not copy everything, the caller holds its writes back (`holding`, `whenResumed`)
 * during a second run, which only copies what came meanwhile. The event loop never waits; only
 * appends arriving during that second run wait for it, and those arriving while a run lags
 * `BACKLOG_ROUNDS` rounds of commits behind (a worker starved of CPU, or still booting): without
 * that, the WAL would grow by whatever the writer committed meanwhile.
 */
export class Checkpointer {
  private readonly worker: Worker
  private sinceLast = 0
  private running = false
  private closed = false
  /** Callers of `checkpoint()` waiting for the next run to start, and for the one running. */
  private waiting: Waiter[] = []
  private inFlight: Waiter[] = []
  /** During a round's second run: writes wait for it. */
  private catchingUp = false
  private resumed: (() => void)[] = []

  constructor(
    path: string,
    /** Called if a checkpoint or the worker fails; the caller falls back to SQLite's own checkpoints. */
    private readonly onFailure: (error: Error) => void,
    /** Commits between checkpoints (an append of one event writes up to ~10 WAL frames). */
    private readonly every = CHECKPOINT_PAGES / 10,
  ) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3')
    this.worker = new Worker(WORKER, { eval: true, workerData: { path, driver } })
    this.worker.unref() // an idle checkpointer must not keep the process alive
    this.worker.on('message', (m: { ok: true; log: number; checkpointed: number } | { ok: false; message: string }) => {
      this.running = false
      if (!m.ok) return this.fail(new Error(`sync storage: WAL checkpoint failed (${m.message})`))
      for (const w of this.inFlight.splice(0)) w.resolve({ log: m.log, checkpointed: m.checkpointed })
      if (this.catchingUp) this.resume()
      else if (m.checkpointed < m.log || this.sinceLast > 0) {
        // the writer committed while it ran: copy the rest with writes held back, so the WAL can restart
        this.catchingUp = true
        return this.start()
      }
      if (this.waiting.length > 0) this.start()
    })
    this.worker.on('error', (e) => this.fail(new Error(`sync storage: the checkpoint worker stopped (${e.message})`, { cause: e })))
  }

  /** Counts a commit; every `every` commits, starts a checkpoint unless one is running. */
  committed(): void {
    if (++this.sinceLast >= this.every && !this.running) this.start()
  }

  /**
   * True while writes must wait: a round's second run, or a run `BACKLOG_ROUNDS` rounds of commits
   * behind. `whenResumed` tells when they may go on.
   */
  get holding(): boolean {
    return this.catchingUp || (this.running && this.sinceLast >= this.every * BACKLOG_ROUNDS)
  }

  whenResumed(callback: () => void): void {
    if (this.holding) this.resumed.push(callback)
    else callback()
  }

  /** Runs a checkpoint now (tests, shutdown). */
  checkpoint(): Promise<CheckpointResult> {
    if (this.closed) return Promise.reject(new Error('sync storage: the checkpointer is closed'))
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject })
      if (!this.running) this.start()
    })
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.resume()
    const exited = new Promise((resolve) => this.worker.once('exit', resolve))
    this.worker.ref() // else a process with nothing else to do would exit before the worker closed the database
    this.worker.postMessage('close')
    await exited
  }

  private start(): void {
    if (this.closed) return
    this.running = true
    this.sinceLast = 0
    this.inFlight = this.waiting
    this.waiting = []
    this.worker.postMessage('checkpoint')
  }

  private resume(): void {
    this.catchingUp = false
    for (const callback of this.resumed.splice(0)) callback()
  }

  private fail(error: Error): void {
    if (this.closed) return
    this.closed = true
    this.running = false
    void this.worker.terminate()
    for (const w of [...this.inFlight.splice(0), ...this.waiting.splice(0)]) w.reject(error)
    this.onFailure(error)
    this.resume()
  }
}
