import { closeSync, fdatasync, fsyncSync, openSync } from 'node:fs'
import { dirname } from 'node:path'

/**
 * Makes SQLite's WAL durable off the event loop. The connection runs with `synchronous=NORMAL`:
 * a commit only writes its frames to the `-wal` file (still crash-consistent: SQLite syncs the WAL
 * before a checkpoint, the database after it, and the WAL header when the log restarts). This
 * class then calls `fdatasync` on the WAL file in libuv's thread pool, and a commit counts as
 * durable once a sync that started after it has returned. Compared with `synchronous=FULL`:
 * - the event loop is not blocked for the fsync, so it keeps fanning out earlier (durable) pages,
 *   answering pings and committing the next appends while the disk works;
 * - commits that land while a sync is running share the next one (group commit across turns);
 * - `fdatasync` instead of the `fsync` SQLite issues: an overwrite of blocks the WAL already has
 *   (see `pregrowWal`) needs no filesystem journal commit, which on a busy ext4 waits for every
 *   other process's metadata (and, in data=ordered, their data) too.
 *
 * A failed sync is final (`failed`): after an fsync error the kernel may have dropped the dirty
 * pages, so retrying could report success for data that is gone.
 */
export class WalSync {
  private fd: number | undefined
  /** Number of the last commit (bumped by `committed()`), and of the last one known durable. */
  private commits = 0
  private durableCommit = 0
  private syncing = false
  private waiters: { commit: number; resolve: () => void; reject: (e: unknown) => void }[] = []
  private onDurable: ((commit: number) => void)[] = []
  failed: Error | undefined

  constructor(
    /** The database path + `-wal`; undefined for an in-memory database (nothing to sync). */
    private readonly walPath: string | undefined,
    /** `fs.fdatasync`; tests pass one they can hold back or fail. */
    private readonly syncFile: (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => void = fdatasync,
  ) {}

  /**
   * Once, before serving: syncs whatever a previous process committed but never synced (it was
   * never acked, but it is about to be served as stored), and the directory that holds the new
   * `-wal` file (SQLite does that for a fresh WAL only under FULL).
   */
  open(): void {
    if (this.walPath === undefined) return
    this.fd = openSync(this.walPath, 'r')
    fsyncSync(this.fd)
    const dir = openSync(dirname(this.walPath), 'r')
    try {
      fsyncSync(dir)
    } finally {
      closeSync(dir)
    }
  }

  /** Records that a transaction just committed; returns its number (for `whenDurable`). */
  committed(): number {
    return ++this.commits
  }

  /** The number of the last commit known durable. */
  get durable(): number {
    return this.durableCommit
  }

  /** Registers a callback run (before waiters resolve) each time commits up to `commit` became durable. */
  listen(callback: (commit: number) => void): void {
    this.onDurable.push(callback)
  }

  /** Resolves once commit number `commit` is on disk. */
  whenDurable(commit: number): Promise<void> {
    if (this.failed !== undefined) return Promise.reject(this.failed)
    if (commit <= this.durableCommit) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ commit, resolve, reject })
      this.startSync()
    })
  }

  private startSync(): void {
    if (this.syncing || this.failed !== undefined) return
    if (this.fd === undefined) return this.done(this.commits)
    this.syncing = true
    const target = this.commits // every commit numbered so far has written its frames
    this.syncFile(this.fd, (error) => {
      this.syncing = false
      if (error !== null) return this.fail(error)
      this.done(target)
    })
  }

  private done(target: number): void {
    this.durableCommit = Math.max(this.durableCommit, target)
    for (const callback of this.onDurable) callback(this.durableCommit)
    const ready = this.waiters.filter((w) => w.commit <= this.durableCommit)
    this.waiters = this.waiters.filter((w) => w.commit > this.durableCommit)
    for (const w of ready) w.resolve()
    if (this.waiters.length > 0) this.startSync()
  }

  private fail(error: Error): void {
    this.failed = new Error(`sync storage: fdatasync of the WAL failed (${error.message}); appends are refused until restart`, {
      cause: error,
    })
    for (const w of this.waiters) w.reject(this.failed)
    this.waiters = []
  }

  /** Waits for the syncs in flight, then closes the file. */
  async close(): Promise<void> {
    if (this.waiters.length > 0) await this.whenDurable(this.commits).catch(() => {})
    while (this.syncing) await new Promise((r) => setImmediate(r))
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }
}

/**
 * What readers may see of each store: its head as of its last durable commit. Stores with commits
 * in flight have an entry; the others are read from the table (all of it is on disk).
 */
export class DurableHeads {
  /** Per store with commits in flight: the head as of its last durable commit. */
  private readonly heads = new Map<string, number>()
  /** Per store with commits in flight: the last of them. */
  private readonly last = new Map<string, number>()
  /** Per store whose row was created by a commit in flight: that commit. */
  private readonly born = new Map<string, number>()
  private pending: { commit: number; storeId: string; head: number }[] = []

  constructor(
    walSync: WalSync,
    /** The head in the table (0 for no row). */
    private readonly stored: (storeId: string) => number,
  ) {
    walSync.listen((durable) => this.advance(durable))
  }

  /** Call inside a transaction about to change `storeId`, before it writes. */
  willCommit(storeId: string): void {
    if (!this.heads.has(storeId)) this.heads.set(storeId, this.stored(storeId))
  }

  /** Commit `commit` left `storeId` at `head` (`created`: it also created the store's row). */
  committed(commit: number, storeId: string, head: number, created = false): void {
    this.pending.push({ commit, storeId, head })
    this.last.set(storeId, commit)
    if (created) this.born.set(storeId, commit)
  }

  /** Commit `commit` deleted `storeId`: nothing of it is served from now on. */
  wiped(commit: number, storeId: string): void {
    this.pending = this.pending.filter((p) => p.storeId !== storeId)
    this.born.delete(storeId)
    this.heads.set(storeId, 0)
    this.committed(commit, storeId, 0)
  }

  /** The head readers may see. */
  head(storeId: string): number {
    return this.heads.get(storeId) ?? this.stored(storeId)
  }

  /** The commit that created the store's row if it is not durable yet, else 0. */
  bornAt(storeId: string): number {
    return this.born.get(storeId) ?? 0
  }

  private advance(durable: number): void {
    let i = 0
    for (; i < this.pending.length && this.pending[i]!.commit <= durable; i++) {
      const { commit, storeId, head } = this.pending[i]!
      this.heads.set(storeId, head)
      if (this.born.get(storeId) === commit) this.born.delete(storeId)
      if (this.last.get(storeId) === commit) {
        // nothing in flight any more: the table is the truth again
        this.last.delete(storeId)
        this.heads.delete(storeId)
      }
    }
    if (i > 0) this.pending = this.pending.slice(i)
  }
}
