import { CairnError, ColumnValueError, MaterializerError, SchemaError } from '../errors.ts'
import type { EventRecord } from './record.ts'
import { SESSION_BIND } from '../schema/client-document.ts'
import type { AnyEventDef } from '../schema/events.ts'
import type { EventMeta, Materializer, MaterializerContext, MaterializerWrite, RawRead } from '../schema/materializers.ts'
import { WriteQuery, type Queryable } from '../schema/query-builder.ts'
import type { Schema } from '../schema/schema.ts'
import { isSqlFragment, type BindValues, type SqlFragment } from '../sqlite/sql.ts'
import { RecordedWrites, SqliteError, type SqliteDb } from '../sqlite/db.ts'
import { isOneRowInsert } from '../sqlite/insert-runs.ts'

/**
 * Applies events to a state database through the schema's materializers. Used by sessions
 * (with changeset recording around it) and by the leader (plain).
 */
export class Materialization {
  /** Materializer and definition by event name: one lookup per event instead of two. */
  private readonly byName = new Map<string, { readonly materializer: Materializer; readonly def: AnyEventDef }>()

  // One context for every event (not an object per event): `event` is the one being materialized.
  private readonly sharedContext: MaterializerContext = ((m: Materialization) => ({
    query: ((q: Queryable<unknown>) => m.contextRead(q)) as MaterializerContext['query'],
    get event(): EventMeta {
      return m.current!
    },
  }))(this)
  // One function for every event (not a closure per event): materializers run one at a time and
  // synchronously, so the event being materialized is `current`.
  private current: EventMeta | undefined
  /** Set by `watchLookups` until the first statement that may look rows up. */
  private beforeLookup: (() => void) | undefined
  /** One-row inserts held by `batchInserts`, not run yet. */
  private held: RecordedWrites | undefined
  private readonly contextRead = ((q: Queryable<unknown> | RawRead): unknown => {
    const meta = this.current!
    try {
      if (this.held !== undefined) this.runHeld()
      if (this.beforeLookup !== undefined) this.lookingUp()
      if ('asSql' in q) return this.read(q, meta.sessionId)
      const fragment: SqlFragment = isSqlFragment(q.query) ? q.query : { query: q.query, bindValues: q.bindValues ?? [] }
      return this.db.select(fragment.query, fragment.bindValues)
    } catch (e) {
      const sql = 'asSql' in q ? q.asSql().query : isSqlFragment(q.query) ? q.query.query : q.query
      throw new MaterializerError(
        meta.name,
        `ctx.query in the materializer of "${meta.name}" failed: ${(e as Error).message} (SQL: ${sql}).`,
        { cause: e },
      )
    }
  }) as MaterializerContext['query']

  constructor(
    private readonly db: SqliteDb,
    private readonly schema: Schema,
  ) {
    for (const [name, materializer] of schema.materializers) {
      const def = schema.eventsByName.get(name)
      if (def !== undefined) this.byName.set(name, { materializer, def })
    }
  }

  /**
   * Runs the event's materializer and executes its writes. Throws `MaterializerError` naming the
   * event (and table/column for constraint failures); the caller owns the transaction.
   * Returns false when the event is unknown to the schema (nothing was written).
   */
  apply(event: EventRecord, args?: unknown): boolean {
    const known = this.byName.get(event.name)
    if (known === undefined) return false
    const { materializer, def } = known
    let result
    try {
      // the record is the event's meta (it has every EventMeta field): no copy per event, which
      // a 10,000-event commit would allocate 10,000 times
      result = materializer(args === undefined ? def.decode(event.json) : args, this.context(event))
    } catch (e) {
      if (e instanceof MaterializerError) throw e
      throw new MaterializerError(
        event.name,
        `The materializer of "${event.name}" threw: ${(e as Error)?.message ?? String(e)}. The commit was rolled back; fix the materializer or the event args.`,
        { cause: e },
      )
    }
    if (result === undefined || result === null) return true
    if (!Array.isArray(result)) this.write(event.name, result as MaterializerWrite)
    else for (const write of result as readonly MaterializerWrite[]) this.write(event.name, write)
    return true
  }

  /**
   * Runs `fn` (which calls `apply`) and calls `beforeLookup` once, before the first statement of
   * a materializer that may look rows up: a read, or a write other than a plain insert (which
   * finds rows by its table's primary key and unique indexes only). A rebuild builds its other
   * indexes after the rows, in one sorted pass, unless a statement needs them before.
   */
  watchLookups(fn: () => void, beforeLookup: () => void): void {
    this.beforeLookup = beforeLookup
    try {
      fn()
    } finally {
      this.beforeLookup = undefined
    }
  }

  /**
   * Runs `fn` (which calls `apply`) holding back its plain one-row inserts until another
   * statement, a read or the end: a run of them goes to SQLite as multi-row inserts, without
   * each row's bind, step and reset (a rebuild replays a whole log of them). The caller owns
   * the transaction and rolls it back on a failure: a held insert that fails is reported as a
   * MaterializerError of the event being materialized when they ran, which need not be the
   * one that made it; replay the events one by one to find that.
   */
  batchInserts(fn: () => void): void {
    const outer = this.held
    if (outer === undefined) this.held = new RecordedWrites()
    try {
      fn()
      if (outer === undefined) this.runHeld()
    } finally {
      if (outer === undefined) this.held = undefined
    }
  }

  private runHeld(): void {
    const held = this.held!
    if (held.length === 0) return
    this.held = new RecordedWrites()
    try {
      this.db.replayWrites(held)
    } catch (e) {
      if (!(e instanceof SqliteError)) throw e
      const name = this.current?.name ?? 'unknown'
      throw new MaterializerError(name, `A batch of inserts made by the materializers up to "${name}" failed: ${e.message}.`, { cause: e })
    }
  }

  private lookingUp(): void {
    const hook = this.beforeLookup!
    this.beforeLookup = undefined
    hook()
  }

  /** Runs a read (or a write with RETURNING) and decodes it. */
  read<T>(query: Queryable<T>, sessionId: string | undefined): T {
    const { query: sql, bindValues } = query.asSql()
    const binds = query.usesSessionId === true ? bindValues.map((v) => (v === SESSION_BIND ? (sessionId ?? null) : v)) : bindValues
    return query.decodeResult(this.db.select(sql, binds))
  }

  private context(meta: EventMeta): MaterializerContext {
    this.current = meta
    return this.sharedContext
  }

  private write(eventName: string, write: MaterializerWrite): void {
    let sql: string
    let bindValues: BindValues | undefined
    // a builder's bind values are made for this write and never changed (raw ones may be reused)
    let owned = false
    try {
      if (write instanceof WriteQuery) {
        sql = write.statement()
        bindValues = write.binds
        owned = true
      } else if ('~writable' in write || ('asSql' in write && typeof (write as { asSql?: unknown }).asSql === 'function')) {
        ;({ query: sql, bindValues } = (write as { asSql(): SqlFragment }).asSql())
      } else if (isSqlFragment(write)) ({ query: sql, bindValues } = write)
      else if (typeof (write as { sql?: unknown }).sql === 'string')
        ({ sql, bindValues } = write as { sql: string; bindValues?: BindValues })
      else
        throw new SchemaError(
          `returned ${JSON.stringify(write)}, which is not a write: return a table write (insert/update/delete), { sql, bindValues }, a sql\`\` fragment, an array of these, or nothing.`,
        )
    } catch (e) {
      throw materializerError(eventName, e)
    }
    if (this.held !== undefined) {
      if (isOneRowInsert(sql)) {
        this.held.push(sql, bindValues, owned)
        return
      }
      this.runHeld()
    }
    try {
      if (this.beforeLookup !== undefined && !isPlainInsert(sql)) this.lookingUp()
      this.db.runOwned(sql, bindValues, owned)
    } catch (e) {
      throw materializerError(eventName, e, sql)
    }
  }
}

/** An insert of values (no SELECT in it): it finds rows by primary key and unique indexes only. */
const PLAIN_INSERT = /^INSERT (?:OR [A-Z]+ )?INTO (?:(?!\bSELECT\b)[\s\S])*$/i
// a rebuild asks about the same few statements once per event
const plainInserts = new Map<string, boolean>()
function isPlainInsert(sql: string): boolean {
  let plain = plainInserts.get(sql)
  if (plain === undefined) {
    plain = PLAIN_INSERT.test(sql)
    if (plainInserts.size < 1024) plainInserts.set(sql, plain)
  }
  return plain
}

function materializerError(eventName: string, e: unknown, sql?: string): MaterializerError {
  if (e instanceof MaterializerError) return e
  if (e instanceof SqliteError && e.isConstraint) {
    const where = e.table !== undefined ? ` on ${e.table}.${e.column}` : ''
    return new MaterializerError(
      eventName,
      `Event "${eventName}" violates a constraint${where}: ${e.message}. The commit was rolled back; check the args (e.g. a duplicate id) or use onConflict in the materializer.`,
      { cause: e, table: e.table, column: e.column },
    )
  }
  if (e instanceof ColumnValueError) {
    return new MaterializerError(eventName, `The materializer of "${eventName}" wrote a bad value: ${e.message}`, {
      cause: e,
      table: e.table,
      column: e.column,
    })
  }
  if (e instanceof CairnError)
    return new MaterializerError(eventName, `The materializer of "${eventName}" ${e.message}`, {
      cause: e,
    })
  const message = (e as Error)?.message ?? String(e)
  return new MaterializerError(
    eventName,
    `A write of the materializer of "${eventName}" failed: ${message}${sql ? ` (SQL: ${sql})` : ''}. The commit was rolled back.`,
    { cause: e },
  )
}
