import { CairnError, SchemaError } from '../errors.ts'
import { LocalRecord, newEventIds, type EventRecord } from '../events/record.ts'
import { nextSeqNum, type SeqNum } from '../events/seq-num.ts'
import type { CommitHint } from '../leader/leader.ts'
import { CreatedEvent, type EventInput } from '../schema/events.ts'
import type { RecordedWrites } from '../sqlite/db.ts'
import { utf8Length } from '../sync/backend.ts'
import { enqueue } from './outbox.ts'
import type { Session, UndoEntry } from './session.ts'

/** What `store.commit` returns; the commit itself is already visible to queries. */
export interface CommitHandle {
  /** The events' (provisional) sequence numbers. */
  readonly seqNums: readonly SeqNum[]
  /**
   * Resolves once the leader has the events in its log: durable where the adapter persists the
   * log (the in-memory adapter keeps it in memory, so nothing survives the process).
   */
  readonly persisted: Promise<void>
  /** Resolves once the events' order is final (by the sync server; without one, by the leader). */
  readonly confirmed: Promise<void>
}

/**
 * Commits events in a session: materializes them in one transaction (all or nothing), checks
 * what they wrote, keeps their undo, refreshes the queries of the written tables and puts the
 * events in the outbox to the leader.
 */
export function commitEvents(s: Session, events: readonly EventInput[]): CommitHandle {
  const defs = events.map((event) => {
    const def = s.schema.eventsByName.get(event?.name)
    if (def === undefined) {
      throw new SchemaError(
        `Cannot commit ${event?.name === undefined ? 'a value that is not an event' : `event "${event.name}"`}: it is not in this store's schema. Create events by calling their definition, e.g. events.todoCreated({ ... }).`,
      )
    }
    // a CreatedEvent's JSON is made later: reading it here would make it now
    if (!(event instanceof CreatedEvent) && typeof event.json !== 'string') {
      throw new SchemaError(
        `Cannot commit event "${event.name}": it has no JSON. A copy of an event (a spread, structuredClone, postMessage) keeps only its name and args; commit the event its definition returned, or create it where you commit it.`,
      )
    }
    return def
  })
  if (events.length === 0) return handle(s, [], undefined, { count: 0, base: null, changeset: undefined })
  const maxEventBytes = s.leaderStatus.maxEventBytes
  if (maxEventBytes != null) for (let i = 0; i < events.length; i++) if (!defs[i]!.clientOnly) checkSize(events[i]!, maxEventBytes)
  const clientOnly = defs[0]!.clientOnly
  const mixed = defs.some((d) => d.clientOnly !== clientOnly)
  const records: EventRecord[] = []
  let head = s.localHead
  let nextGlobal = s.sync.upstreamHead + s.sync.pending.length + 1
  const eventIds = newEventIds(events.length)
  const { clientId, sessionId } = s
  const { rebaseGeneration } = s.sync
  const materialization = s.materialization
  /** Materializes every event; `record` (if given) wraps each event's materialization. */
  const applyAll = (record?: (apply: () => void, eventName: string, clientOnly: boolean) => void) => {
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!
      const def = defs[i]!
      // synced events chain after the pending ones; client-only ones count after the head
      head = def.clientOnly ? nextSeqNum(head, true) : { global: nextGlobal++, client: 0, rebaseGeneration }
      const rec = new LocalRecord(head, event.name, event, eventIds[i]!, clientId, sessionId, def.clientOnly, event.args)
      if (record === undefined) materialization.apply(rec, event.args)
      else record(() => materialization.apply(rec, event.args), event.name, def.clientOnly)
      records.push(rec)
    }
  }
  let entries: UndoEntry[] = []
  let written: ReadonlySet<string> = new Set()
  let changeset: Uint8Array | null | undefined
  let writes: RecordedWrites | undefined
  // the write checks run inside the transaction, so a refused commit leaves nothing behind
  s.db.transaction(() => {
    if (!mixed) {
      // One changeset per commit: a session's first write to a table costs a schema lookup
      // (~50 µs), so recording per event would dominate small commits. A commit is all or
      // nothing, and so is its undo.
      // Without a sync backend nothing is ever undone, so only the tables are recorded, and a
      // synced commit's write statements, for the leader to run instead of every materializer
      // again (recording them costs an array push per write; a changeset would read every
      // changed row back).
      const run = () => applyAll()
      if (!s.undoable && !clientOnly) {
        const recorded = s.db.recordWrites(run)
        checkWrites(s, events.length === 1 ? `"${events[0]!.name}"` : 'in this commit', clientOnly, recorded.tables)
        entries = [{ records: [...records], changeset: undefined, tables: recorded.tables, done: 0 }]
        writes = recorded.writes
        written = recorded.tables
      } else {
        const recorded = s.record(run)
        checkWrites(s, events.length === 1 ? `"${events[0]!.name}"` : 'in this commit', clientOnly, recorded.tables)
        // client-only events are final at once: they are never undone
        if (!clientOnly) {
          entries = [{ records: [...records], changeset: recorded.changeset, tables: recorded.tables, done: 0 }]
          changeset = recorded.changeset
        }
        written = recorded.tables
      }
    } else {
      // synced and client-only events in one commit: record each event to check what it wrote
      const all = new Set<string>()
      applyAll((apply, name, isClientOnly) => {
        const recorded = s.record(apply)
        checkWrites(s, `"${name}"`, isClientOnly, recorded.tables)
        for (const t of recorded.tables) all.add(t)
        if (!isClientOnly) entries.push({ records: [], changeset: recorded.changeset, tables: recorded.tables, done: 0 })
      })
      written = all
    }
  })
  s.localHead = head
  const hint: CommitHint = { count: records.length, base: s.stateToken, changeset, writes }
  s.stateToken = records[records.length - 1]!.eventId
  const synced = mixed ? records.filter((r) => !r.clientOnly) : clientOnly ? [] : records
  // each mixed entry undoes one synced event, in order
  if (mixed) entries.forEach((e, i) => (e.records = [synced[i]!]))
  s.undo.push(...entries)
  if (synced.length > 0) {
    // Appended in place: copying the list made a burst of commits (an import loop, before the
    // leader confirms any) quadratic. The store is the only holder of its sync state's list.
    const pending = s.sync.pending as EventRecord[]
    for (const r of synced) pending.push(r)
  }
  s.clientOnlyUnpersisted += records.length - synced.length
  s.graph.bump(written)
  s.statusVersion.value++
  return handle(s, records, synced[synced.length - 1]?.eventId, hint)
}

function handle(s: Session, records: EventRecord[], lastSyncedId: string | undefined, hint: CommitHint): CommitHandle {
  const { persisted, confirmed } = enqueue(s, records, lastSyncedId, hint)
  return {
    get seqNums() {
      return records.map((r) => r.seqNum)
    },
    get persisted() {
      return persisted.promise
    },
    get confirmed() {
      return confirmed.promise
    },
  }
}

/**
 * Refuses a synced event larger than the sync server takes: pushed, it would be refused for
 * good and stop the events after it. The exact size (making the JSON now) only when the cheap
 * bound is over the limit.
 */
function checkSize(event: EventInput, maxEventBytes: number): void {
  const bound = event instanceof CreatedEvent ? event.maxJsonBytes : 3 * event.json.length
  if (bound <= maxEventBytes) return
  const bytes = utf8Length(event.json)
  if (bytes <= maxEventBytes) return
  throw new CairnError(
    'EventTooLarge',
    `Cannot commit event "${event.name}": its args are ${bytes} bytes of JSON, and the sync server takes events up to ${maxEventBytes} bytes (its limits.maxEventBytes). Nothing was applied. Keep large data out of events (store it elsewhere and commit a reference), split it over several events, or raise the server's maxEventBytes.`,
  )
}

function checkWrites(s: Session, eventName: string, clientOnly: boolean, tables: ReadonlySet<string>): void {
  for (const table of tables) {
    const tableIsClientOnly = s.schema.clientOnlyTables.has(table)
    if (clientOnly && !tableIsClientOnly) {
      throw new CairnError(
        'ClientOnlyWrite',
        `Client-only event ${eventName} wrote table "${table}", which is synced. Client-only events may write only client-only tables (clientOnly: true, client documents); make the event synced or the table clientOnly.`,
      )
    }
    if (!clientOnly && tableIsClientOnly) {
      throw new CairnError(
        'ClientOnlyWrite',
        `Synced event ${eventName} wrote client-only table "${table}". Client-only tables are written by client-only events only; use Events.clientOnly for this event or make the table synced.`,
      )
    }
  }
}
