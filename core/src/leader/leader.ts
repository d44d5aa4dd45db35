import { MaterializerError, UnknownEventError } from '../errors.ts'
import type { EventRecord } from '../events/record.ts'
import { Materialization } from '../events/materialize.ts'
import type { Schema } from '../schema/schema.ts'
import type { SeqNum } from '../events/seq-num.ts'
import { addLocal, confirmPrefix, dropPending, initialSyncState, mergeUpstream, type SyncState } from '../sync/sync-state.ts'
import { SqliteError, type RecordedWrites, type SqliteDb } from '../sqlite/db.ts'
import type { SparseImageReader } from '../sqlite/file-image.ts'
import { quoteId } from '../sqlite/sql.ts'
import { newEventId, withSeqNum } from '../events/record.ts'
import {
  checkStorageFormat,
  DDL,
  INTERNAL_TABLES,
  logEvents,
  loggedEvent,
  readRecord,
  RECORD_COLUMNS,
  SET_META,
  toRecord,
} from './eventlog.ts'
import type {
  AppendResult,
  BootStatus,
  CommitHint,
  LeaderMessage,
  LeaderOptions,
  LeaderStatus,
  LoggedEvent,
  LogEntry,
  SessionBoot,
} from './protocol.ts'

export type * from './protocol.ts'

export { INTERNAL_TABLES } from './eventlog.ts'

// a page's read is not interrupted by a progress report: small enough to take well under its interval
const REPLAY_PAGE = 500
/** A rebuild reports its progress at least this often (plus at its start and end). */
const PROGRESS_EVERY_MS = 50

/**
 * The leader of one client: owns the eventlog and the state materialized from its confirmed
 * prefix, in one database updated in one transaction per batch. Pending events are logged but
 * materialized only in sessions, so the leader never rolls back: a rebase only renumbers log
 * rows. Client-only events are final when logged (numbered after the confirmed head) and
 * materialized at once. Without a sync backend the leader is the authority and confirms
 * synced events as it logs them.
 */
export class Leader {
  private sync: SyncState<LoggedEvent>
  /** Client-only events logged after the confirmed head: the `client` part of the next one. */
  private clientCounter: number
  private producerSeq: number
  private serverHead: number | null = null
  private connected = false
  private error: LeaderStatus['error'] = null
  private maxEventBytes: number | null = null
  private currentClientId: string
  private authority = true
  private readonly listeners = new Set<(message: LeaderMessage) => void>()
  private readonly materialization: Materialization
  private readonly warned = new Set<string>()
  /**
   * Names the current state: the last eventId materialized by `append` when the state is exactly
   * what materializing the log gave, else a fresh id. A session whose commit started from this
   * token started from this very state (same events, same order, nothing skipped).
   */
  private stateToken: string = newEventId()
  /** @internal Commits whose changeset or writes were applied instead of materializing (tests read it). */
  changesetsApplied = 0
  /**
   * The sync values as last written to `__cairn_meta` (empty: not written by this leader yet).
   * A transaction that fails restores it with the rest (see `transact`).
   */
  private savedMeta: Record<(typeof SYNC_META_KEYS)[number], string> = { upstreamHead: '', rebaseGeneration: '', producerSeq: '' }
  /** AUTOINCREMENT keeps sqlite_sequence, which changesets do not carry: always materialize. */
  private readonly changesetsUsable: boolean

  private constructor(
    private readonly db: SqliteDb,
    private readonly schema: Schema,
    clientId: string,
    private readonly warn: (message: string) => void,
    private readonly reportError: (error: unknown) => void,
  ) {
    this.materialization = new Materialization(db, schema)
    this.changesetsUsable = !schema.ddl.some((d) => /\bAUTOINCREMENT\b/i.test(d))
    this.currentClientId = clientId
    const meta = this.readMeta()
    const upstreamHead = Number(meta.get('upstreamHead') ?? 0)
    const pending = this.readLog("WHERE status = 'pending'") as LoggedEvent[]
    this.sync = initialSyncState(upstreamHead, pending, Number(meta.get('rebaseGeneration') ?? 0))
    this.producerSeq = Number(meta.get('producerSeq') ?? 0)
    const lastClient = this.db.select('SELECT max(seq_client) AS c FROM __cairn_eventlog WHERE seq_global = ?', [upstreamHead])[0]?.c
    this.clientCounter = Number(lastClient ?? 0)
  }

  /**
   * Opens a leader on `db` (new or previously used). Creates the log on first use; rebuilds
   * state by replaying the log when what produced it changed (see `rebuildReason`).
   */
  static open(db: SqliteDb, schema: Schema, options: LeaderOptions): Leader {
    checkStorageFormat(db)
    db.exec(DDL)
    const meta = new Map(db.select('SELECT key, value FROM __cairn_meta').map((r) => [r.key as string, r.value as string]))
    const clientId = meta.get('clientId') ?? options.clientId
    const warn = options.warn ?? ((m: string) => console.warn(m))
    const leader = new Leader(db, schema, clientId, warn, options.reportError ?? ((e) => console.error(e)))
    if (leader.rebuildReason(meta) !== undefined) leader.rebuild(bootReporter(options))
    else if (meta.get('materializers') !== materializersMeta(schema)) db.run(SET_META, ['materializers', materializersMeta(schema)])
    if (!meta.has('clientId')) db.run(SET_META, ['clientId', clientId])
    return leader
  }

  /**
   * Rebuilds the state from the confirmed log now, reporting progress as a boot does (stage
   * `rehydrating` with `{ done, total }`), then tells the sessions to reload. The log, pending
   * events included, is left as it is.
   */
  rematerialize(options: Pick<LeaderOptions, 'onBootStatus' | 'onProgress'> = {}): void {
    this.rebuild(bootReporter(options))
    this.emit({ type: 'reload', status: this.status })
  }

  get clientId(): string {
    return this.currentClientId
  }

  /** The head of the log: the last pending event, or the last confirmed one. */
  get head(): SeqNum {
    const last = this.sync.pending[this.sync.pending.length - 1]
    return last?.seqNum ?? { global: this.sync.upstreamHead, client: this.clientCounter, rebaseGeneration: 0 }
  }

  get upstreamHead(): number {
    return this.sync.upstreamHead
  }

  get pending(): readonly LoggedEvent[] {
    return this.sync.pending
  }

  get status(): LeaderStatus {
    return {
      clientId: this.currentClientId,
      head: this.head,
      upstreamHead: this.sync.upstreamHead,
      serverHead: this.serverHead,
      connected: this.connected,
      error: this.error,
      maxEventBytes: this.maxEventBytes,
    }
  }

  /** Listens to what the leader tells its sessions; returns the function that stops listening. */
  subscribe(listener: (message: LeaderMessage) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /**
   * What a session boots from: a copy of the database plus the pending events. The copy is
   * bytes, or with `inProcess` (the session runs in this process and this SQLite module) a
   * database copied inside SQLite's memory.
   */
  snapshot(): SessionBoot & { readonly snapshot: Uint8Array }
  snapshot(options: { readonly inProcess: boolean; readonly readImage?: SparseImageReader | undefined }): SessionBoot
  snapshot(options: { readonly inProcess?: boolean; readonly readImage?: SparseImageReader | undefined } = {}): SessionBoot {
    let copy: SqliteDb | Uint8Array
    // the session holds state only; copying it here, in the leader's call, checks the log's
    // pages too, so a damaged file fails the leader's boot (the adapter names the file)
    if (options.inProcess === true) copy = this.db.copyWithout(INTERNAL_TABLES, options.readImage)
    else copy = this.db.serialize()
    return {
      clientId: this.currentClientId,
      snapshot: copy,
      pending: this.sync.pending,
      upstreamHead: this.sync.upstreamHead,
      rebaseGeneration: this.sync.rebaseGeneration,
      head: this.head,
      status: this.status,
      stateToken: this.stateToken,
      clientOnlyHead: { global: this.sync.upstreamHead, client: this.clientCounter, rebaseGeneration: 0 },
    }
  }

  /**
   * Called by a sync processor: from now on the server orders synced events, so `append` logs
   * them as pending instead of confirming them.
   */
  setAuthority(authority: boolean): void {
    this.authority = authority
  }

  /**
   * Appends events from a session in one transaction. Client-only events are numbered after the
   * confirmed head, logged and materialized: they are final. Synced events are numbered after
   * the log's head and logged as pending with the next producerSeq; without a sync backend the
   * leader is the authority and confirms (and materializes) them at once. A materializer that
   * fails here (it succeeded in the session, so it is not deterministic) loses no event: the
   * event stays logged, its writes are skipped, and the failure is returned. `committed` is
   * called once the transaction committed, before the sessions are told (a persisted adapter
   * starts its fsync there, so that it runs while they update).
   */
  append(events: readonly EventRecord[], commits?: readonly CommitHint[], committed?: () => void): AppendResult {
    const assigned: SeqNum[] = []
    const failures: { eventId: string; error: MaterializerError }[] = []
    const confirmedNow: EventRecord[] = []
    let pendingNow: readonly LoggedEvent[] = []
    const clientOnlyNow: LoggedEvent[] = []
    this.transact(() => {
      // number the synced events in one step (a client-only event between them does not count)
      const drafts = events.filter((e) => !e.clientOnly).map((e) => loggedEvent(e, e.seqNum, this.currentClientId, ++this.producerSeq))
      const { state, numbered } = addLocal(this.sync, drafts, withSeqNum)
      this.sync = state
      let next = 0
      let upstream = this.sync.upstreamHead
      // materialized together after the loop, in log order: one savepoint for the batch
      const toApply: EventRecord[] = []
      const logConfirmed: LoggedEvent[] = []
      const logPending: LoggedEvent[] = []
      for (const event of events) {
        if (event.clientOnly) {
          const logged = loggedEvent(event, { global: upstream, client: ++this.clientCounter, rebaseGeneration: 0 }, event.clientId, 0)
          logConfirmed.push(logged)
          toApply.push(logged)
          clientOnlyNow.push(logged)
          assigned.push(logged.seqNum)
          continue
        }
        const logged = numbered[next++]!
        if (this.authority) {
          upstream = logged.seqNum.global
          this.clientCounter = 0
          logConfirmed.push(logged)
          toApply.push(logged)
          confirmedNow.push(logged)
        } else logPending.push(logged)
        assigned.push(logged.seqNum)
      }
      logEvents(this.db, logConfirmed, 'confirmed')
      logEvents(this.db, logPending, 'pending')
      pendingNow = logPending
      if (this.authority) this.applyLocal(events, toApply, commits, failures)
      else {
        this.applyBatch(toApply, failures)
        // the session's state holds the pending events, ours does not
        if (events.length > 0) this.stateToken = newEventId()
      }
      if (this.authority) this.sync = confirmPrefix(this.sync, this.sync.pending.length)
      this.saveSyncMeta()
    })
    committed?.()
    // the client's other sessions (tabs) show them too: client-only means this client, not this tab
    if (clientOnlyNow.length > 0 && this.listeners.size > 0)
      this.emit({ type: 'clientOnly', events: clientOnlyNow.map(toRecord), status: this.status })
    if (confirmedNow.length > 0) this.emit({ type: 'upstream', events: confirmedNow.map(toRecord), status: this.status })
    else if (pendingNow.length > 0 && this.listeners.size > 0) {
      // every session shows them now (another tab's commit), not only once the server ordered them
      this.emit({ type: 'pending', events: pendingNow.map(toRecord), status: this.status })
    } else this.emitStatus()
    return { assigned, failures }
  }

  /**
   * Takes events ordered by the server: confirms our pending events they match, materializes
   * foreign ones (and ours that arrived out of place) into the confirmed state, renumbers the
   * pending events that must move past them, all in one transaction; then tells the sessions.
   * Returns false, changing nothing, when the events do not continue the confirmed log.
   */
  receiveUpstream(incoming: readonly LoggedEvent[]): { ok: true } | { ok: false; expected: number; reason: string } {
    const result = mergeUpstream(this.sync, incoming, withSeqNum)
    if (result.type === 'rejected') {
      this.emitStatus()
      return { ok: false, expected: result.expected, reason: result.reason }
    }
    if (result.state === this.sync) {
      this.emitStatus()
      return { ok: true }
    }
    const fresh = [...result.confirmed, ...result.apply]
    const failures: { eventId: string; error: MaterializerError }[] = []
    this.transact(() => {
      // Ours confirmed where they stand first: the renumbering below moves the pending rows,
      // and these must not move onto the numbers of the incoming events.
      for (const e of result.confirmed) {
        // the number is final now: e4, not e4r1
        this.db.run(`UPDATE __cairn_eventlog SET status = 'confirmed', rebase_generation = 0 WHERE event_id = ?`, [e.eventId])
      }
      // The rolled-back rows (now the only pending ones) move by the same distance unless some
      // of them arrived in the batch: then one UPDATE pair (through negative numbers, so the
      // primary key never collides mid-way) instead of rewriting the rows one by one. Those
      // that arrived come back below at their final place.
      const shift = result.replay.length === result.rollback.length && result.replay.length > 0
      if (shift) {
        const by = result.replay[0]!.seqNum.global - result.rollback[0]!.seqNum.global
        this.db.run(`UPDATE __cairn_eventlog SET seq_global = -(seq_global + ?) WHERE status = 'pending'`, [by])
        this.db.run(`UPDATE __cairn_eventlog SET seq_global = -seq_global, rebase_generation = ? WHERE status = 'pending'`, [
          result.state.rebaseGeneration,
        ])
      } else for (const e of result.rollback) this.db.run('DELETE FROM __cairn_eventlog WHERE event_id = ?', [e.eventId])
      logEvents(this.db, result.apply, 'confirmed')
      this.applyBatch(fresh, failures)
      this.stateToken = newEventId()
      if (!shift) logEvents(this.db, result.replay, 'pending')
      this.sync = result.state
      this.clientCounter = 0
      this.saveSyncMeta()
    })
    for (const f of failures) this.reportError(f.error)
    this.emit({ type: 'upstream', events: fresh.map(toRecord), status: this.status })
    return { ok: true }
  }

  /** Events to push: pending ones with a producerSeq after `after`, at most `max`. */
  unpushed(after: number, max: number): LoggedEvent[] {
    const out: LoggedEvent[] = []
    for (const e of this.sync.pending) {
      if (e.producerSeq > after) out.push(e)
      if (out.length === max) break
    }
    return out
  }

  /**
   * Takes a pending event out of the log: the sync server refused it for good and the app
   * dropped it. The pending events after it move down one number and one producerSeq (the
   * server never took any of them: pushes are in order and all or nothing), all under the next
   * rebase generation. Our state holds confirmed events only, so nothing is rolled back here;
   * sessions that hold the event roll back on the `dropped` message. False when it is not pending.
   */
  dropPending(eventId: string): boolean {
    const result = dropPending(this.sync, eventId, withSeqNum)
    if (result === undefined) return false
    const dropped = this.sync.pending.find((e) => e.eventId === eventId)!
    const pending = result.state.pending.map((e) =>
      e.producerSeq > dropped.producerSeq ? Object.assign(withSeqNum(e, e.seqNum), { producerSeq: e.producerSeq - 1 }) : e,
    )
    this.transact(() => {
      this.db.run('DELETE FROM __cairn_eventlog WHERE event_id = ?', [eventId])
      // through negative numbers, so the primary key never collides mid-way
      this.db.run(`UPDATE __cairn_eventlog SET seq_global = -seq_global WHERE status = 'pending'`)
      for (const e of pending) {
        this.db.run('UPDATE __cairn_eventlog SET seq_global = ?, rebase_generation = ?, producer_seq = ? WHERE event_id = ?', [
          e.seqNum.global,
          e.seqNum.rebaseGeneration,
          e.producerSeq,
          e.eventId,
        ])
      }
      this.sync = { ...result.state, pending }
      this.producerSeq--
      this.saveSyncMeta()
    })
    this.emit({ type: 'dropped', eventId, status: this.status })
    return true
  }

  /** The server's event size limit, for the status (sessions check it at commit); null: no check. */
  setMaxEventBytes(bytes: number | null): void {
    if (this.maxEventBytes === bytes) return
    this.maxEventBytes = bytes
    this.emitStatus()
  }

  /** Connection facts from the sync processor, for the status. */
  setConnection(update: { connected?: boolean; serverHead?: number; error?: LeaderStatus['error'] }, quiet = false): void {
    if (update.connected !== undefined) this.connected = update.connected
    if (update.serverHead !== undefined) this.serverHead = Math.max(this.serverHead ?? 0, update.serverHead)
    if (update.error !== undefined) this.error = update.error
    if (!quiet) this.emitStatus()
  }

  getMeta(key: string): string | null {
    return (this.db.select('SELECT value FROM __cairn_meta WHERE key = ?', [key])[0]?.value as string | undefined) ?? null
  }

  setMeta(key: string, value: string): void {
    this.db.run(SET_META, [key, value])
  }

  /**
   * Another client pushed under our id: take a new one and renumber our pending events'
   * producerSeq from 1 under it, so they can be pushed again. Confirmed events keep their id.
   */
  changeClientId(newId: string): void {
    this.transact(() => {
      let seq = 0
      const pending = this.sync.pending.map((e) => ({ ...e, clientId: newId, producerSeq: ++seq }))
      for (const e of pending) {
        this.db.run('UPDATE __cairn_eventlog SET client_id = ?, producer_seq = ? WHERE event_id = ?', [newId, e.producerSeq, e.eventId])
      }
      this.sync = { ...this.sync, pending }
      this.producerSeq = seq
      this.currentClientId = newId
      this.db.run(SET_META, ['clientId', newId])
      this.saveSyncMeta()
    })
    this.emitStatus()
  }

  /** Tells the sessions to shut down (the store cannot go on, e.g. after a server reset). */
  shutdownSessions(reason: string): void {
    this.emit({ type: 'shutdown', reason })
  }

  /** Events in log order; `where` filters (internal use and devtools). */
  readLog(where = '', bindValues: readonly (string | number)[] = [], limit = -1): EventRecord[] {
    return this.db.selectRows(
      `SELECT ${RECORD_COLUMNS} FROM __cairn_eventlog ${where} ORDER BY seq_global, seq_client LIMIT ?`,
      [...bindValues, limit],
      readRecord,
    )
  }

  /** The whole log with each event's status, for devtools and tests. */
  logEntries(): LogEntry[] {
    return this.db.selectRows(`SELECT ${RECORD_COLUMNS} FROM __cairn_eventlog ORDER BY seq_global, seq_client`, [], (r) => ({
      ...toRecord(readRecord(r)),
      status: r.text(10) as LogEntry['status'],
    }))
  }

  get eventCount(): number {
    return Number(this.db.select('SELECT count(*) AS n FROM __cairn_eventlog')[0]!.n)
  }

  /**
   * Materializes a local batch in authority mode (`logged` is `events` as logged, same order).
   * A commit the session made on exactly our current state, numbered as we numbered it, gets
   * the session's recorded changes applied instead (its changeset, or its write statements run
   * again; one savepoint for a run of such commits, instead of every materializer again): the
   * same state, as materializers are deterministic. A conflict or failed write rolls them back
   * and materializes those commits. Our state stays named by the session's token only while
   * every commit was applied on a state named by its base and nothing failed.
   */
  private applyLocal(
    events: readonly EventRecord[],
    logged: readonly EventRecord[],
    commits: readonly CommitHint[] | undefined,
    failures: { eventId: string; error: MaterializerError }[],
  ): void {
    let total = 0
    for (const c of commits ?? []) total += c.count
    if (commits === undefined || total !== events.length) {
      this.applyBatch(logged, failures)
      if (events.length > 0) this.stateToken = newEventId()
      return
    }
    let token = this.stateToken
    let slow: EventRecord[] = []
    let fast: EventRecord[] = []
    let changes: (Uint8Array | RecordedWrites)[] = []
    let fastCommits = 0
    const materialize = (batch: readonly EventRecord[]) => {
      const failed = failures.length
      this.applyBatch(batch, failures)
      if (failures.length > failed) token = newEventId()
    }
    const flushSlow = () => {
      if (slow.length > 0) materialize(slow)
      slow = []
    }
    const flushFast = () => {
      if (fast.length === 0) return
      if (this.applyChanges(changes)) this.changesetsApplied += fastCommits
      else materialize(fast)
      fast = []
      changes = []
      fastCommits = 0
    }
    let i = 0
    for (const commit of commits) {
      const from = i
      i += commit.count
      if (commit.count === 0) continue
      const last = events[i - 1]!.eventId
      const recorded = commit.changeset !== undefined ? (this.changesetsUsable ? commit.changeset : undefined) : usableWrites(commit.writes)
      if (recorded !== undefined && commit.base === token && sameNumbering(events, logged, from, i)) {
        // materializing what came before may have failed, and then our state is not the session's
        flushSlow()
        if (commit.base === token) {
          for (let k = from; k < i; k++) fast.push(logged[k]!)
          if (recorded !== null) changes.push(recorded)
          fastCommits++
          token = last
          continue
        }
      }
      flushFast()
      for (let k = from; k < i; k++) slow.push(logged[k]!)
      token = commit.base === token ? last : newEventId()
    }
    flushSlow()
    flushFast()
    this.stateToken = token
  }

  /**
   * Applies recorded changes in order, in one savepoint (consecutive changesets combined into
   * one apply). Returns false, with nothing applied, on a conflict or a failed write.
   */
  private applyChanges(changes: readonly (Uint8Array | RecordedWrites)[]): boolean {
    if (changes.length === 0) return true
    try {
      return this.db.transaction(() => {
        let group: Uint8Array[] = []
        const applyGroup = () => {
          if (group.length > 0 && !this.db.applyChangesets(group)) throw CONFLICT
          group = []
        }
        for (const c of changes) {
          if (c instanceof Uint8Array) group.push(c)
          else {
            applyGroup()
            this.db.replayWrites(c)
          }
        }
        applyGroup()
        return true
      })
    } catch (e) {
      if (e === CONFLICT || e instanceof SqliteError) return false
      throw e
    }
  }

  /** Materializes events in one savepoint; when one fails, again one savepoint per event. */
  private applyBatch(events: readonly EventRecord[], failures: { eventId: string; error: MaterializerError }[]): void {
    if (events.length === 0) return
    try {
      // plain inserts as multi-row inserts, as in a rebuild (a pull of a long history)
      this.db.transaction(() =>
        this.materialization.batchInserts(() => {
          for (const event of events) {
            if (this.schema.eventsByName.has(event.name)) this.materialization.apply(event, event.args)
            else this.applyIsolated(event, failures)
          }
        }),
      )
    } catch (e) {
      if (!(e instanceof MaterializerError)) throw e
      for (const event of events) this.applyIsolated(event, failures)
    }
  }

  /** Materializes one event in a savepoint: a failure skips its writes, keeps the event, and is reported. */
  private applyIsolated(event: EventRecord, failures: { eventId: string; error: MaterializerError }[]): void {
    if (!this.schema.eventsByName.has(event.name)) {
      try {
        this.handleUnknown(event.name, this.warned)
      } catch (e) {
        this.reportError(e)
      }
      return
    }
    try {
      this.db.transaction(() => this.materialization.apply(event, event.args))
    } catch (e) {
      if (!(e instanceof MaterializerError)) throw e
      failures.push({ eventId: event.eventId, error: e })
    }
  }

  /**
   * Runs `fn` in one transaction that may change the in-memory state with the database: when it
   * throws (a failed write, a full disk), both go back to what they were.
   */
  private transact(fn: () => void): void {
    const before = {
      sync: this.sync,
      clientCounter: this.clientCounter,
      producerSeq: this.producerSeq,
      currentClientId: this.currentClientId,
      stateToken: this.stateToken,
      changesetsApplied: this.changesetsApplied,
      savedMeta: this.savedMeta,
    }
    try {
      this.db.transaction(fn)
    } catch (e) {
      Object.assign(this, before)
      throw e
    }
  }

  /**
   * Writes the sync bookkeeping that changed since it was last written, in one statement: an
   * append changes two values of three, and each statement run was ~3 µs of a single-event
   * commit's ~100 µs in the leader.
   */
  private saveSyncMeta(): void {
    const saved = this.savedMeta
    const next = {
      upstreamHead: String(this.sync.upstreamHead),
      rebaseGeneration: String(this.sync.rebaseGeneration),
      producerSeq: String(this.producerSeq),
    }
    const values: string[] = []
    for (const key of SYNC_META_KEYS) if (saved[key] !== next[key]) values.push(key, next[key])
    if (values.length === 0) return
    this.db.run(SET_META_ROWS[values.length / 2 - 1]!, values)
    this.savedMeta = next
  }

  private readMeta(): Map<string, string> {
    return new Map(this.db.select('SELECT key, value FROM __cairn_meta').map((r) => [r.key as string, r.value as string]))
  }

  private emit(message: LeaderMessage): void {
    for (const listener of this.listeners) {
      try {
        listener(message)
      } catch (e) {
        this.reportError(e)
      }
    }
  }

  private emitStatus(): void {
    if (this.listeners.size > 0) this.emit({ type: 'status', status: this.status })
  }

  /**
   * Why the state must be rebuilt before use, or undefined: the tables changed (their DDL), or
   * what materializes an event of the confirmed log changed (its materializer's hash, or the
   * event became known or unknown), or the state predates materializer hashes.
   */
  private rebuildReason(meta: ReadonlyMap<string, string>): string | undefined {
    if (meta.get('stateHash') !== this.schema.stateHash) return 'tables'
    const stored = parseMaterializers(meta.get('materializers'))
    if (stored === undefined) return 'unversioned'
    const changed: string[] = []
    for (const [name, h] of this.schema.materializerHashes) if (stored.get(name) !== h) changed.push(name)
    for (const name of stored.keys()) if (!this.schema.materializerHashes.has(name)) changed.push(name)
    // an event of a changed name in the confirmed log: its rows were made otherwise (or not at all)
    for (let i = 0; i < changed.length; i += 500) {
      const names = changed.slice(i, i + 500)
      const found = this.db.select(
        `SELECT name FROM __cairn_eventlog WHERE status = 'confirmed' AND name IN (${names.map(() => '?').join(', ')}) LIMIT 1`,
        names,
      )[0]
      if (found !== undefined) return `materializer of ${String(found.name)}`
    }
    return undefined
  }

  /**
   * Drops every state table, recreates them from the schema and replays the confirmed log. An
   * event whose materializer fails is skipped (its writes only) and reported, not the rebuild.
   */
  private rebuild(onBootStatus: ((status: BootStatus) => void) | undefined): void {
    // every event less the pending ones: the first is counted from the smallest index, the
    // second from the partial index on pending; counting `status = 'confirmed'` read every row
    // of the log (~15% of a 100,000-event rebuild here)
    const count = (sql: string) => Number(this.db.select(sql)[0]!.n)
    const total =
      count('SELECT count(*) AS n FROM __cairn_eventlog') - count(`SELECT count(*) AS n FROM __cairn_eventlog WHERE status = 'pending'`)
    const warned = new Set<string>()
    const failures: MaterializerError[] = []
    // the rebuild's transaction holds the whole state: an adapter that keeps a transaction's
    // pages in memory (cache_spill off) would hold all of it; spilling bounds the memory
    const spill = this.db.select('PRAGMA cache_spill')[0]?.cache_spill
    if (spill === 0) this.db.exec('PRAGMA cache_spill = ON')
    try {
      this.rebuildState(total, warned, failures, onBootStatus)
    } finally {
      if (spill === 0) this.db.exec('PRAGMA cache_spill = OFF')
    }
    for (const failure of failures) this.reportError(failure)
  }

  private rebuildState(
    total: number,
    warned: Set<string>,
    failures: MaterializerError[],
    onBootStatus: ((status: BootStatus) => void) | undefined,
  ): void {
    this.transact(() => {
      const existing = this.db.select(
        `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '__cairn%' AND name NOT LIKE 'sqlite_%'`,
      )
      for (const { name } of existing) this.db.exec(`DROP TABLE ${quoteId(String(name))}`)
      // an index that refuses no row (not UNIQUE) is built after the replay, in one sorted pass
      // (a sixth of a 100,000-event rebuild's CPU here), instead of row by row; or as soon as a
      // materializer reads or updates, so that it runs on the schema it was written for (same
      // plans, no scans). IF NOT EXISTS: a page rolled back may take one built in it away
      const laterIndexes = this.schema.ddl.filter((statement) => /^CREATE INDEX /.test(statement))
      for (const statement of this.schema.ddl) if (!laterIndexes.includes(statement)) this.db.exec(statement)
      let indexesBuilt = laterIndexes.length === 0
      const buildIndexes = () => {
        if (indexesBuilt) return
        for (const statement of laterIndexes) this.db.exec(statement.replace(/^CREATE INDEX /, 'CREATE INDEX IF NOT EXISTS '))
        indexesBuilt = true
      }
      let done = 0
      let after: SeqNum = { global: -1, client: -1, rebaseGeneration: 0 }
      const report = () => onBootStatus?.({ stage: 'rehydrating', progress: { done, total } })
      report()
      // by the clock, not by count: a slow materializer must not make progress look stuck
      let reported = performance.now()
      for (;;) {
        // a row value, not `seq_global > ? OR (seq_global = ? AND seq_client > ?)`: SQLite seeks
        // the primary key to it, where the OR made every page scan the log from its start
        const page = this.readLog(
          `WHERE status = 'confirmed' AND (seq_global, seq_client) > (?, ?)`,
          [after.global, after.client],
          REPLAY_PAGE,
        )
        if (page.length === 0) break
        const pageStart = done
        const replay = (isolated: boolean) => {
          for (const event of page) {
            if (!this.schema.eventsByName.has(event.name)) this.handleUnknown(event.name, warned)
            else if (!isolated) this.materialization.apply(event)
            else {
              try {
                this.db.transaction(() => this.materialization.apply(event))
              } catch (e) {
                if (!(e instanceof MaterializerError)) throw e
                failures.push(e)
              }
            }
            if (++done % 64 === 0 && onBootStatus !== undefined && performance.now() - reported >= PROGRESS_EVERY_MS) {
              report()
              reported = performance.now()
            }
          }
        }
        // one savepoint per page; when a materializer fails, again one per event: a failing event's
        // writes are skipped and reported, as when it was first materialized (the same on every client)
        try {
          // the page's plain inserts go as multi-row inserts (a third of the writes' cost here)
          const batched = () => this.materialization.batchInserts(() => replay(false))
          this.db.transaction(() => (indexesBuilt ? batched() : this.materialization.watchLookups(batched, buildIndexes)))
        } catch (e) {
          if (!(e instanceof MaterializerError)) throw e
          done = pageStart
          // one by one the failing event is found by its own write: indexes as when it first ran
          indexesBuilt = false
          buildIndexes()
          replay(true)
        }
        after = page[page.length - 1]!.seqNum
      }
      buildIndexes()
      report()
      this.db.run(SET_META, ['stateHash', this.schema.stateHash])
      this.db.run(SET_META, ['materializers', materializersMeta(this.schema)])
      // a session's changes were made on the state before: they must not be applied to this one
      this.stateToken = newEventId()
    })
  }

  private handleUnknown(name: string, warned: Set<string>): void {
    const policy = this.schema.unknownEventHandling
    if (policy === 'fail') throw new UnknownEventError(name)
    if (policy === 'warn' && !warned.has(name)) {
      warned.add(name)
      this.warn(
        `Cairn: event "${name}" in the eventlog is not in the schema; it is kept and skipped. Add its definition to materialize it.`,
      )
    }
  }
}

const CONFLICT = new Error('recorded changes conflict with the state')

const SYNC_META_KEYS = ['upstreamHead', 'rebaseGeneration', 'producerSeq'] as const
/** SET_META for 1, 2 or 3 rows. */
const SET_META_ROWS = [1, 2, 3].map(
  (n) =>
    `INSERT INTO __cairn_meta (key, value) VALUES ${Array.from({ length: n }, () => '(?, ?)').join(', ')} ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
)

/** One progress callback from a boot's `onBootStatus` and the deprecated `onProgress`, or none. */
function bootReporter(options: Pick<LeaderOptions, 'onBootStatus' | 'onProgress'>): ((status: BootStatus) => void) | undefined {
  const { onBootStatus, onProgress } = options
  if (onBootStatus === undefined && onProgress === undefined) return undefined
  return (status) => {
    onBootStatus?.(status)
    if (status.progress !== undefined) onProgress?.({ phase: 'rebuilding', ...status.progress })
  }
}

/** The schema's materializer hashes as stored in `__cairn_meta` (sorted: the same text for the same hashes). */
function materializersMeta(schema: Schema): string {
  return JSON.stringify(Object.fromEntries([...schema.materializerHashes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))
}

/** The stored materializer hashes; undefined when absent or unreadable (the state is rebuilt). */
function parseMaterializers(value: string | undefined): Map<string, string> | undefined {
  if (value === undefined) return undefined
  try {
    const parsed: unknown = JSON.parse(value)
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined
    return new Map(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'))
  } catch {
    // not JSON (written by hand, or damaged): rebuilding is always correct
    return undefined
  }
}

/** Writes the leader can run instead of materializing: null when there are none, undefined when unusable. */
function usableWrites(writes: RecordedWrites | undefined): RecordedWrites | null | undefined {
  if (writes === undefined || writes.failed) return undefined
  return writes.length === 0 ? null : writes
}

/** The session materialized events[from, to) with the numbers and client id we logged them with. */
function sameNumbering(events: readonly EventRecord[], logged: readonly EventRecord[], from: number, to: number): boolean {
  for (let k = from; k < to; k++) {
    const a = events[k]!
    const b = logged[k]!
    if (a.clientOnly || a.clientId !== b.clientId || a.seqNum.global !== b.seqNum.global || a.seqNum.client !== b.seqNum.client)
      return false
    if (a.seqNum.rebaseGeneration !== b.seqNum.rebaseGeneration) return false
  }
  return true
}
