import { fdatasync } from 'node:fs'

/**
 * Group commit for a database in WAL mode with `synchronous=NORMAL`: a commit only writes its
 * frames to the `-wal` file, and counts as durable once an `fdatasync` of that file that started
 * after it has returned. The sync runs in libuv's thread pool, so the event loop goes on, and the
 * commits made while one runs share the next. (The same scheme as the sync server's storage.)
 *
 * A failed sync is final: after an fsync error the kernel may have dropped the dirty pages, so a
 * retry could report success for data that is gone.
 */
export class GroupCommit {
  private commits = 0
  private durableCommit = 0
  private syncing = false
  private waiters: { commit: number; resolve: () => void; reject: (e: unknown) => void }[] = []
  failed: Error | undefined

  constructor(
    /** The WAL's descriptor; undefined while there is no WAL file (nothing written yet). */
    private readonly walFd: () => number | undefined,
    /** What to call the file in an error. */
    private readonly describe: (error: NodeJS.ErrnoException) => Error,
    private readonly syncFile: (fd: number, callback: (error: NodeJS.ErrnoException | null) => void) => void = fdatasync,
  ) {}

  /** Counts a transaction that just committed; resolves once it is on disk. */
  commit(): Promise<void> {
    if (this.failed !== undefined) return Promise.reject(this.failed)
    const commit = ++this.commits
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ commit, resolve, reject })
      this.startSync()
    })
  }

  /** Waits until every commit so far is durable (or the sync failed). */
  async flush(): Promise<void> {
    if (this.durableCommit >= this.commits || this.failed !== undefined) return
    await new Promise<void>((resolve) => {
      this.waiters.push({ commit: this.commits, resolve, reject: () => resolve() })
      this.startSync()
    })
  }

  private startSync(): void {
    if (this.syncing || this.failed !== undefined) return
    const fd = this.walFd()
    const target = this.commits // every commit numbered so far has written its frames
    if (fd === undefined) return this.done(target)
    this.syncing = true
    this.syncFile(fd, (error) => {
      this.syncing = false
      if (error !== null) return this.fail(error)
      this.done(target)
    })
  }

  private done(target: number): void {
    this.durableCommit = Math.max(this.durableCommit, target)
    const ready = this.waiters.filter((w) => w.commit <= this.durableCommit)
    this.waiters = this.waiters.filter((w) => w.commit > this.durableCommit)
    for (const w of ready) w.resolve()
    if (this.waiters.length > 0) this.startSync()
  }

  private fail(error: NodeJS.ErrnoException): void {
    this.failed = this.describe(error)
    for (const w of this.waiters) w.reject(this.failed)
    this.waiters = []
  }
}
