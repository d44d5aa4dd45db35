// The leader's eventlog: its tables, how events are written to it and read back, and the record
// shapes the leader keeps and hands to sessions.
import { CairnError } from '../errors.ts'
import { plainRecord, type EventRecord } from '../events/record.ts'
import { ROW_CHUNKS } from '../sqlite/insert-runs.ts'
import type { LoggedEvent } from './protocol.ts'
import type { SeqNum } from '../events/seq-num.ts'
import type { SqlValue } from '../sqlite/sql.ts'
import type { ColumnReader, SqliteDb } from '../sqlite/db.ts'

export const INTERNAL_TABLES = ['__cairn_eventlog', '__cairn_meta'] as const

/**
 * The version of the leader's storage format (its tables and what they mean), kept in SQLite's
 * `user_version`. A version that reads a database must know its format: a newer one is refused,
 * never "repaired". Bump it with a migration when the tables change.
 */
export const STORAGE_FORMAT = 1

/** Refuses a database written in a newer storage format; marks a new (or pre-versioning) one as ours. */
export function checkStorageFormat(db: SqliteDb): void {
  const format = Number(db.select('PRAGMA user_version')[0]?.user_version ?? 0)
  if (format > STORAGE_FORMAT) {
    const what = db.filename === undefined ? 'This database' : `The store file ${db.filename}`
    throw new CairnError(
      'StorageFormatTooNew',
      `${what} was written by a newer version of Cairn (storage format ${format}; this version reads format ${STORAGE_FORMAT} and older). It was left unchanged: open it with that newer version of @cairn/core.`,
    )
  }
  if (format < STORAGE_FORMAT) db.exec(`PRAGMA user_version = ${STORAGE_FORMAT}`)
}

/** The leader's tables: its eventlog and its sync bookkeeping. */
export const DDL = `
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
  producer_seq INTEGER,
  status TEXT NOT NULL,
  PRIMARY KEY (seq_global, seq_client)
);
CREATE INDEX IF NOT EXISTS __cairn_eventlog_pending ON __cairn_eventlog (status) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS __cairn_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`
// The status is part of the text (one statement per status): a bind fewer per logged event.
// A batch is logged 64 rows per statement (then 16, 4, 1): each statement run costs bind calls,
// a step and a reset besides the rows' B-tree work.
const EVENT_COLUMNS = 10
const LOG_CHUNKS = [...ROW_CHUNKS, 1] as const
const insertEventsSql = (status: 'pending' | 'confirmed', rows: number) => `INSERT INTO __cairn_eventlog
  (seq_global, seq_client, rebase_generation, name, args, event_id, client_id, session_id, client_only, producer_seq, status)
  VALUES ${Array.from({ length: rows }, () => `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '${status}')`).join(', ')}`
const INSERT_EVENTS = {
  pending: LOG_CHUNKS.map((n) => insertEventsSql('pending', n)),
  confirmed: LOG_CHUNKS.map((n) => insertEventsSql('confirmed', n)),
}
export const SET_META = `INSERT INTO __cairn_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`

/**
 * A LoggedEvent built field by field: a spread gives objects of varying shapes, which made every
 * later read of a 10,000-event batch (logging, numbering checks, `toRecord`) slow.
 */
export function loggedEvent(e: EventRecord, seqNum: SeqNum, clientId: string, producerSeq: number): LoggedEvent {
  return {
    seqNum,
    name: e.name,
    json: e.json,
    eventId: e.eventId,
    clientId,
    sessionId: e.sessionId,
    clientOnly: e.clientOnly,
    args: e.args,
    producerSeq,
  }
}

/** Logs events with one status, in as few statements as LOG_CHUNKS allows. */
export function logEvents(db: SqliteDb, events: readonly LoggedEvent[], status: 'pending' | 'confirmed'): void {
  // one array for every statement: a batch logs thousands, and nothing keeps the values after the run
  const v = eventValues
  for (let i = 0; i < events.length;) {
    let c = 0
    while (LOG_CHUNKS[c]! > events.length - i) c++
    const rows = LOG_CHUNKS[c]!
    v.length = rows * EVENT_COLUMNS
    for (let r = 0; r < rows; r++) {
      const e = events[i + r]!
      const s = e.seqNum
      const o = r * EVENT_COLUMNS
      v[o] = s.global
      v[o + 1] = s.client
      v[o + 2] = s.rebaseGeneration
      v[o + 3] = e.name
      v[o + 4] = e.json
      v[o + 5] = e.eventId
      v[o + 6] = e.clientId
      v[o + 7] = e.sessionId
      v[o + 8] = e.clientOnly ? 1 : 0
      v[o + 9] = e.producerSeq > 0 ? e.producerSeq : null
    }
    db.run(INSERT_EVENTS[status][c]!, v)
    i += rows
  }
  v.length = 0
}

const eventValues: SqlValue[] = []

/** The columns `readRecord` reads, in its order (the status last: only `logEntries` reads it). */
export const RECORD_COLUMNS =
  'seq_global, seq_client, rebase_generation, name, args, event_id, client_id, session_id, client_only, producer_seq, status'

/** A row of RECORD_COLUMNS as the record it logged (no object per row in between). */
export function readRecord(r: ColumnReader): EventRecord {
  return {
    seqNum: { global: r.number(0), client: r.number(1), rebaseGeneration: r.number(2) },
    name: r.repeatedText(3),
    json: r.text(4),
    eventId: r.text(5),
    clientId: r.repeatedText(6),
    sessionId: r.repeatedText(7),
    clientOnly: r.number(8) === 1,
    // NULL (a client-only event) reads as 0, as the record has it
    producerSeq: r.number(9),
  } as LoggedEvent
}

/** The record sessions see (no producerSeq: that is the leader's business; no args: a session validates its own). */
export function toRecord(e: LoggedEvent | EventRecord): EventRecord {
  return plainRecord(e, e.seqNum, undefined)
}
