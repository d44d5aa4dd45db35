// The leader of one store, hosted by the worker of the tab that won the election: @cairn/core's
// Leader and LeaderSync on the store's OPFS file (or on memory where OPFS is unavailable), with
// what a worker needs around them: plain answers, re-sent appends recognised by eventId.
import {
  CairnError,
  hostLeader,
  readSparseImage,
  SqliteDb,
  SqliteError,
  type AppendResult,
  type LeaderPort,
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
import { openStoreFile, releasePool } from './opfs-storage.ts'
import { plainMessage, plainRecord, toWireError, type StorageMode, type WireError } from './wire.ts'

export interface HostOptions {
  readonly storeId: string
  /** The local copy's key (`storeId` or `storeId@localName`): names the OPFS file's directory. */
  readonly localKey?: string | undefined
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

/** core's shared leader host (Leader + LeaderSync behind a LeaderPort) on the store's file, served to the tabs. */
export class LeaderHost {
  /** The leader's last status (for a catch-up before any boot on this host). */
  private status: LeaderStatus | undefined

  private constructor(
    private readonly options: HostOptions,
    private readonly db: SqliteDb,
    private readonly port: LeaderPort,
    private readonly pool: Pool | undefined,
    readonly filename: string | undefined,
  ) {
    port.subscribe((m) => {
      if (m.type !== 'shutdown') this.status = m.status
    })
  }

  static async open(options: HostOptions): Promise<LeaderHost> {
    const file = options.storage === 'opfs' ? await openStoreFile(options.localKey ?? options.storeId) : undefined
    const db = file?.db ?? (await SqliteDb.open())
    let wipe = false
    let port: LeaderPort
    try {
      port = hostLeader(db, {
        storeId: options.storeId,
        schema: options.schema,
        sync: options.sync,
        clientId: options.clientId,
        warn: options.warn,
        reportError: options.reportError,
        onBootStatus: options.onBootStatus,
        // the session's copy: the state's pages only, the log's checked but not copied
        readImage: file === undefined ? undefined : readSparseImage,
        mapError: (e) => storageError(e, options.storeId, file?.filename),
        // sync's 'reset' policy: the sessions shut down, and the file is emptied once the leader closes
        reset: () => {
          wipe = true
        },
        onClose: async () => {
          db.close()
          if (file !== undefined) {
            if (wipe) await file.pool.wipeFiles()
            releasePool(file.pool)
          }
        },
      })
    } catch (e) {
      db.close()
      if (file !== undefined) releasePool(file.pool)
      throw e
    }
    return new LeaderHost(options, db, port, file?.pool, file?.filename)
  }

  get storageMode(): StorageMode {
    return this.pool === undefined ? 'in-memory' : 'opfs'
  }

  get syncing(): boolean {
    return this.options.sync !== undefined
  }

  get clientId(): string {
    return this.port.clientId
  }

  subscribe(listener: (message: LeaderMessage) => void): () => void {
    return this.port.subscribe((m) => listener(plainMessage(m)))
  }

  /** The session's boot: the leader's in-process copy (without the log) as bytes for the page. */
  async boot(): Promise<WireBoot> {
    const boot = await this.port.boot()
    let snapshot: Uint8Array
    if (boot.snapshot instanceof SqliteDb) {
      try {
        snapshot = boot.snapshot.serialize()
      } finally {
        boot.snapshot.close()
      }
    } else snapshot = boot.snapshot
    this.status = boot.status
    return {
      clientId: boot.clientId,
      snapshot,
      pending: boot.pending.map(plainRecord),
      upstreamHead: boot.upstreamHead,
      rebaseGeneration: boot.rebaseGeneration,
      head: boot.head,
      status: boot.status,
      stateToken: boot.stateToken,
      clientOnlyHead: boot.clientOnlyHead,
      storageMode: this.storageMode,
    }
  }

  /**
   * Logs a session's events in one durable transaction. A `resent` batch (its first delivery
   * went to a leader that may have logged it before its tab closed) skips the events the log
   * holds already, so nothing is logged twice.
   */
  async append(records: readonly EventRecord[], hints: readonly CommitHint[] | undefined, resent: boolean): Promise<WireAppendResult> {
    let events = records
    let commits = hints
    if (resent && records.length > 0) {
      const known = this.loggedIds(records)
      if (known.size > 0) {
        events = records.filter((e) => !known.has(e.eventId))
        commits = undefined
      }
    }
    const result = await this.port.append(events, commits)
    return {
      assigned: result.assigned,
      failures: result.failures.map((f) => ({ eventId: f.eventId, error: toWireError(f.error) })),
      duplicates: records.length - events.length,
    }
  }

  /** Rebuilds the state from the log (progress to the leader tab's onBootStatus); every tab's session reloads. */
  async rematerialize(): Promise<void> {
    await this.port.rematerialize!()
  }

  /** Drops the event the sync server refused (`Store.dropRefusedEvent`), in the leader's worker. */
  async dropRefusedEvent(eventId: string): Promise<void> {
    await this.port.dropRefusedEvent!(eventId)
  }

  async readLog(): Promise<LogEntry[]> {
    return (await this.port.readLog()).map((e) => ({ ...plainRecord(e), status: e.status }))
  }

  /** Synced events confirmed after global number `head`, in order, read from the log. */
  since(head: number): CatchUp {
    const rows = this.db.select(
      `SELECT * FROM __cairn_eventlog WHERE status = 'confirmed' AND client_only = 0 AND seq_global > ? ORDER BY seq_global, seq_client`,
      [head],
    )
    const events = rows.map((r): EventRecord => ({
      seqNum: { global: Number(r.seq_global), client: Number(r.seq_client), rebaseGeneration: Number(r.rebase_generation) },
      name: String(r.name),
      json: String(r.args),
      eventId: String(r.event_id),
      clientId: String(r.client_id),
      sessionId: String(r.session_id),
      clientOnly: false,
    }))
    return { events, status: this.status ?? this.statusFromLog() }
  }

  async close(): Promise<void> {
    await this.port.close()
  }

  /** The status as the log and metadata tell it (no connection known yet). */
  private statusFromLog(): LeaderStatus {
    const upstreamHead = Number(this.db.select(`SELECT value FROM __cairn_meta WHERE key = 'upstreamHead'`)[0]?.value ?? 0)
    const last = this.db.select(
      'SELECT seq_global, seq_client, rebase_generation FROM __cairn_eventlog ORDER BY seq_global DESC, seq_client DESC LIMIT 1',
    )[0]
    return {
      clientId: this.port.clientId,
      head:
        last === undefined
          ? { global: upstreamHead, client: 0, rebaseGeneration: 0 }
          : { global: Number(last.seq_global), client: Number(last.seq_client), rebaseGeneration: Number(last.rebase_generation) },
      upstreamHead,
      serverHead: null,
      connected: false,
      error: null,
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
}

/** A storage failure as an error naming the store and file, saying what to do. */
function storageError(e: unknown, storeId: string, filename: string | undefined): unknown {
  if (e instanceof CairnError && e.code === 'StorageFormatTooNew') {
    return new CairnError(
      'IncompatibleStorage',
      `The OPFS file of store "${storeId}" (${filename}) cannot be read by this version: ${e.message} Update the app, or call resetPersistence({ storeId: '${storeId}' }) to start over (local data not synced to a server is lost).`,
      { cause: e },
    )
  }
  if (!(e instanceof SqliteError)) return e
  // SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_READONLY: the storage refused the write
  if (![10, 13, 14, 8].includes(e.resultCode & 0xff)) return e
  const where = filename === undefined ? 'memory' : `OPFS file ${filename}`
  return new CairnError(
    'StorageWriteFailed',
    `Store "${storeId}" could not write to ${where}: ${e.message}. Nothing of this commit was stored (the transaction was rolled back); free storage space (the browser's quota for this site may be exhausted) and commit again.`,
    { cause: e },
  )
}
