import { MaterializerError, UnknownEventError } from './errors.ts'
import type { EventRecord } from './event-record.ts'
import { Materialization } from './materialize.ts'
import type { Schema } from './schema/schema.ts'
import { compareSeqNum, nextSeqNum, ROOT_SEQ, type SeqNum } from './seq-num.ts'
import type { SqliteDb } from './sqlite.ts'

/** Reported while state is rebuilt from the eventlog after a schema change. */
export interface BootProgress {
  readonly phase: 'rebuilding'
  readonly done: number
  readonly total: number
}

/** What a session needs to start: the leader's state and the events it has not confirmed yet. */
export interface SessionBoot {
  readonly clientId: string
  readonly snapshot: Uint8Array
  /** Events in the log but not yet confirmed; the session applies them on top of the snapshot. */
  readonly pending: readonly EventRecord[]
  readonly head: SeqNum
}

export interface AppendResult {
  /** Numbers the leader gave the events, in order. */
  readonly assigned: readonly SeqNum[]
  /** Events that were logged but whose materialization failed in the leader. */
  readonly failures: readonly { readonly eventId: string; readonly error: MaterializerError }[]
}

export interface LeaderOptions {
  readonly clientId: string
  readonly onProgress?: ((progress: BootProgress) => void) | undefined
  readonly warn?: ((message: string) => void) | undefined
}

export const INTERNAL_TABLES = ['__cairn_eventlog', '__cairn_meta'] as const

const DDL = `
CREATE TABLE IF NOT EXISTS __cairn_eventlog (
  seq_global INTEGER NOT NULL,
  seq_client INTEGER NOT NULL,
  rebase_generation INTEGER NOT NULL,
  name TEXT NOT NULL,
  args TEXT NOT NULL,
  event_id TEXT NOT NULL UNIQUE,
  client_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  client_only INTEGER NOT NULL,
  status TEXT NOT NULL,
  PRIMARY KEY (seq_global, seq_client)
);
CREATE TABLE IF NOT EXISTS __cairn_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`
const INSERT_EVENT = `INSERT INTO __cairn_eventlog
  (seq_global, seq_client, rebase_generation, name, args, event_id, client_id, session_id, client_only, status)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
const REPLAY_PAGE = 2000

/**
 * The leader of one client: owns the eventlog and the state materialized from its confirmed
 * prefix, in one database updated in one transaction per batch. Pending events are logged but
 * materialized only in sessions, so the leader never rolls back. Without a sync backend the
 * leader is the authority and confirms events as it logs them.
 */
export class Leader {
  private headSeq: SeqNum
  private readonly materialization: Materialization

  private constructor(
    private readonly db: SqliteDb,
    private readonly schema: Schema,
    readonly clientId: string,
    private readonly warn: (message: string) => void,
  ) {
    this.materialization = new Materialization(db, schema)
    this.headSeq = this.readHead()
  }

  /**
   * Opens a leader on `db` (new or previously used). Creates the log on first use; when the state
   * schema hash differs from the stored one, rebuilds state by replaying the log.
   */
  static open(db: SqliteDb, schema: Schema, options: LeaderOptions): Leader {
    db.exec(DDL)
    const meta = new Map(db.select('SELECT key, value FROM __cairn_meta').map((r) => [r.key as string, r.value as string]))
    const clientId = meta.get('clientId') ?? options.clientId
    const warn = options.warn ?? ((m: string) => console.warn(m))
    const leader = new Leader(db, schema, clientId, warn)
    if (meta.get('stateHash') !== schema.stateHash) leader.rebuild(options.onProgress)
    if (!meta.has('clientId')) db.run('INSERT INTO __cairn_meta (key, value) VALUES (?, ?)', ['clientId', clientId])
    return leader
  }

  get head(): SeqNum {
    return this.headSeq
  }

  /** A serialized copy of the database plus the pending events, for a session to boot from. */
  snapshot(): SessionBoot {
    const pending = this.readLog("WHERE status = 'pending'")
    return { clientId: this.clientId, snapshot: this.db.serialize(), pending, head: this.headSeq }
  }

  /**
   * Appends events from a session in one transaction: logs them and, being the authority without
   * a sync backend, materializes and confirms them at once. A materializer that fails here (it
   * succeeded in the session, so it is not deterministic) loses no event: the event stays logged,
   * its writes are skipped, and the failure is returned.
   */
  append(events: readonly EventRecord[]): AppendResult {
    const assigned: SeqNum[] = []
    const failures: { eventId: string; error: MaterializerError }[] = []
    const start = this.headSeq
    const run = (isolate: boolean) => {
      let head = start
      assigned.length = 0
      failures.length = 0
      for (const event of events) {
        head = nextSeqNum(head, event.clientOnly)
        const logged = { ...event, seqNum: head }
        this.insertEvent(logged, 'confirmed')
        if (!isolate) this.materialization.apply(logged)
        else {
          try {
            this.db.transaction(() => this.materialization.apply(logged))
          } catch (e) {
            failures.push({ eventId: event.eventId, error: e as MaterializerError })
          }
        }
        assigned.push(head)
      }
      this.headSeq = head
    }
    try {
      this.db.transaction(() => run(false))
    } catch (e) {
      if (!(e instanceof MaterializerError)) throw e
      this.headSeq = start
      this.db.transaction(() => run(true))
    }
    return { assigned, failures }
  }

  /** Events in log order; `where` filters (internal use and devtools). */
  readLog(where = '', bindValues: readonly (string | number)[] = [], limit = -1): EventRecord[] {
    return this.db
      .select(`SELECT * FROM __cairn_eventlog ${where} ORDER BY seq_global, seq_client LIMIT ?`, [...bindValues, limit])
      .map(rowToRecord)
  }

  get eventCount(): number {
    return Number(this.db.select('SELECT count(*) AS n FROM __cairn_eventlog')[0]!.n)
  }

  private insertEvent(e: EventRecord, status: 'pending' | 'confirmed'): void {
    const s = e.seqNum
    this.db.run(INSERT_EVENT, [
      s.global,
      s.client,
      s.rebaseGeneration,
      e.name,
      e.json,
      e.eventId,
      e.clientId,
      e.sessionId,
      e.clientOnly ? 1 : 0,
      status,
    ])
  }

  private readHead(): SeqNum {
    const row = this.db.select(
      'SELECT seq_global, seq_client, rebase_generation FROM __cairn_eventlog ORDER BY seq_global DESC, seq_client DESC LIMIT 1',
    )[0]
    if (row === undefined) return ROOT_SEQ
    return { global: Number(row.seq_global), client: Number(row.seq_client), rebaseGeneration: Number(row.rebase_generation) }
  }

  /** Drops every state table, recreates them from the schema and replays the confirmed log. */
  private rebuild(onProgress: ((p: BootProgress) => void) | undefined): void {
    const total = Number(this.db.select(`SELECT count(*) AS n FROM __cairn_eventlog WHERE status = 'confirmed'`)[0]!.n)
    const warned = new Set<string>()
    this.db.transaction(() => {
      const existing = this.db.select(
        `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '__cairn%' AND name NOT LIKE 'sqlite_%'`,
      )
      for (const { name } of existing) this.db.exec(`DROP TABLE "${String(name).replaceAll('"', '""')}"`)
      for (const statement of this.schema.ddl) this.db.exec(statement)
      let done = 0
      let after: SeqNum = { global: -1, client: -1, rebaseGeneration: 0 }
      onProgress?.({ phase: 'rebuilding', done, total })
      for (;;) {
        const page = this.readLog(
          `WHERE status = 'confirmed' AND (seq_global > ? OR (seq_global = ? AND seq_client > ?))`,
          [after.global, after.global, after.client],
          REPLAY_PAGE,
        )
        if (page.length === 0) break
        for (const event of page) {
          if (!this.schema.eventsByName.has(event.name)) this.handleUnknown(event.name, warned)
          else this.materialization.apply(event)
        }
        done += page.length
        after = page[page.length - 1]!.seqNum
        onProgress?.({ phase: 'rebuilding', done, total })
      }
      this.db.run(`INSERT INTO __cairn_meta (key, value) VALUES ('stateHash', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [
        this.schema.stateHash,
      ])
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

  /** Orders check for tests: the log is strictly ascending. */
  static isAscending(log: readonly EventRecord[]): boolean {
    for (let i = 1; i < log.length; i++) if (compareSeqNum(log[i - 1]!.seqNum, log[i]!.seqNum) >= 0) return false
    return true
  }
}

function rowToRecord(r: Record<string, unknown>): EventRecord {
  return {
    seqNum: { global: Number(r.seq_global), client: Number(r.seq_client), rebaseGeneration: Number(r.rebase_generation) },
    name: r.name as string,
    json: r.args as string,
    eventId: r.event_id as string,
    clientId: r.client_id as string,
    sessionId: r.session_id as string,
    clientOnly: r.client_only === 1,
  }
}
