// The leader of one store, hosted by the worker of the tab that won the election: @cairn/core's
// Leader and LeaderSync on the store's OPFS file (or on memory where OPFS is unavailable), with
// what a worker needs around them: plain answers, re-sent appends recognised by eventId.
import {
  CairnError,
  Leader,
  SqliteDb,
  SqliteError,
  type AppendResult,
  type BootStatus,
  type CommitHint,
  type EventRecord,
  type LeaderMessage,
  type LeaderStatus,
  type LogEntry,
  type Schema,
  type SessionBoot,
  type SyncOptions,
} from '@cairn/core'
import { LeaderSync } from '@cairn/core'
import { openStoreFile, releasePool } from './opfs-storage.ts'
import { plainMessage, plainRecord, toWireError, type StorageMode, type WireError } from './wire.ts'

export interface HostOptions {
  readonly storeId: string
  readonly schema: Schema
  readonly sync?: SyncOptions | undefined
  /** Where to keep the data; `in-memory` where OPFS is unavailable (see `warning`). */
  readonly storage: StorageMode
  readonly clientId: string
  readonly warn: (text: string) => void
  readonly reportError: (error: unknown) => void
  readonly onBootStatus: (status: BootStatus) => void
}

/** A session's boot as it crosses to the page: the snapshot as bytes, plain records. */
export interface WireBoot extends SessionBoot {
  readonly snapshot: Uint8Array
  readonly storageMode: StorageMode
}

export interface WireAppendResult {
  readonly assigned: AppendResult['assigned']
  readonly failures: readonly { readonly eventId: string; readonly error: WireError }[]
  /** Events of the batch the log already held (a re-sent append after a leader change). */
  readonly duplicates: number
}

/** Confirmed events after a head, for a session that may have missed some while leaders changed. */
export interface CatchUp {
  readonly events: readonly EventRecord[]
  readonly status: LeaderStatus
}

type Pool = Awaited<ReturnType<typeof openStoreFile>>['pool']

export class LeaderHost {
  private closed = false
  private wipeOnClose = false

  private constructor(
    private readonly options: HostOptions,
    private readonly db: SqliteDb,
    private readonly leader: Leader,
    private readonly pool: Pool | undefined,
    readonly filename: string | undefined,
    private syncer: LeaderSync | undefined,
  ) {}

  static async open(options: HostOptions): Promise<LeaderHost> {
    const file = options.storage === 'opfs' ? await openStoreFile(options.storeId) : undefined
    const db = file?.db ?? (await SqliteDb.open())
    let leader: Leader
    try {
      leader = Leader.open(db, options.schema, {
        clientId: options.clientId,
        onBootStatus: options.onBootStatus,
        warn: options.warn,
        reportError: options.reportError,
      })
    } catch (e) {
      db.close()
      if (file !== undefined) releasePool(file.pool)
      if (e instanceof CairnError && e.code === 'StorageFormatTooNew') {
        throw new CairnError(
          'IncompatibleStorage',
          `The OPFS file of store "${options.storeId}" (${file?.filename}) cannot be read by this version: ${e.message} Update the app, or call resetPersistence({ storeId: '${options.storeId}' }) to start over (local data not synced to a server is lost).`,
          { cause: e },
        )
      }
      throw e
    }
    const host = new LeaderHost(options, db, leader, file?.pool, file?.filename, undefined)
    if (options.sync !== undefined) {
      host.syncer = new LeaderSync(leader, options.storeId, options.sync, {
        reportError: options.reportError,
        // the sessions shut down after this; the file is emptied once the leader closes
        reset: () => {
          host.wipeOnClose = true
        },
      })
    }
    return host
  }

  get storageMode(): StorageMode {
    return this.pool === undefined ? 'in-memory' : 'opfs'
  }

  get syncing(): boolean {
    return this.options.sync !== undefined
  }

  get clientId(): string {
    return this.leader.clientId
  }

  subscribe(listener: (message: LeaderMessage) => void): () => void {
    return this.leader.subscribe((m) => listener(plainMessage(m)))
  }

  boot(): WireBoot {
    this.assertOpen()
    const boot = this.leader.snapshot()
    const snapshot = boot.snapshot
    // the file is in WAL mode; the session's copy lives in memory, where WAL cannot be opened
    if (snapshot.length > 19 && snapshot[18] === 2) snapshot[18] = snapshot[19] = 1
    return {
      clientId: boot.clientId,
      snapshot,
      pending: boot.pending.map(plainRecord),
      upstreamHead: boot.upstreamHead,
      rebaseGeneration: boot.rebaseGeneration,
      head: boot.head,
      status: boot.status,
      stateToken: boot.stateToken,
      storageMode: this.storageMode,
    }
  }

  /**
   * Logs a session's events in one durable transaction. A `resent` batch (its first delivery
   * went to a leader that may have logged it before its tab closed) skips the events the log
   * holds already, so nothing is logged twice.
   */
  append(records: readonly EventRecord[], hints: readonly CommitHint[] | undefined, resent: boolean): WireAppendResult {
    this.assertOpen()
    let events = records
    let commits = hints
    if (resent && records.length > 0) {
      const known = this.loggedIds(records)
      if (known.size > 0) {
        events = records.filter((e) => !known.has(e.eventId))
        commits = undefined
      }
    }
    let result: AppendResult
    try {
      result = this.leader.append(events, commits)
    } catch (e) {
      throw this.writeError(e, events.length)
    }
    this.syncer?.pushNext()
    return {
      assigned: result.assigned,
      failures: result.failures.map((f) => ({ eventId: f.eventId, error: toWireError(f.error) })),
      duplicates: records.length - events.length,
    }
  }

  readLog(): LogEntry[] {
    this.assertOpen()
    return this.leader.logEntries().map((e) => ({ ...plainRecord(e), status: e.status }))
  }

  /** Synced events confirmed after global number `head`, in order. */
  since(head: number): CatchUp {
    this.assertOpen()
    const events = this.leader.readLog(`WHERE status = 'confirmed' AND client_only = 0 AND seq_global > ?`, [head]).map(plainRecord)
    return { events, status: this.leader.status }
  }

  /** Stops syncing and closes the file, releasing it for the next leader. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    try {
      await this.syncer?.close()
    } finally {
      this.db.close()
      if (this.pool !== undefined) {
        if (this.wipeOnClose) await this.pool.wipeFiles()
        releasePool(this.pool)
      }
    }
  }

  private loggedIds(records: readonly EventRecord[]): Set<string> {
    const known = new Set<string>()
    // chunks well under SQLite's bind limit
    for (let i = 0; i < records.length; i += 500) {
      const ids = records.slice(i, i + 500).map((e) => e.eventId)
      const rows = this.db.selectColumn(`SELECT event_id FROM __cairn_eventlog WHERE event_id IN (${ids.map(() => '?').join(',')})`, ids)
      for (const id of rows) known.add(id as string)
    }
    return known
  }

  /** A failed write (quota, a broken file) as an error naming the store and file. */
  private writeError(e: unknown, count: number): unknown {
    if (!(e instanceof SqliteError)) return e
    const primary = e.resultCode & 0xff
    // SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_READONLY: the storage refused the write
    if (![10, 13, 14, 8].includes(primary)) return e
    const where = this.filename === undefined ? 'memory' : `OPFS file ${this.filename}`
    return new CairnError(
      'StorageWriteFailed',
      `Store "${this.options.storeId}" could not write ${count} event(s) to ${where}: ${e.message}. Nothing of this commit was stored (the transaction was rolled back); free storage space (the browser's quota for this site may be exhausted) and commit again.`,
      { cause: e },
    )
  }

  private assertOpen(): void {
    if (this.closed) throw new CairnError('LeaderClosed', `The leader of store "${this.options.storeId}" is closed.`)
  }
}
