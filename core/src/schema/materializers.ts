import type { BindValues, SqlFragment } from '../sqlite/sql.ts'
import type { SeqNum } from '../events/seq-num.ts'
import type { Row } from '../sqlite/db.ts'
import type { AnyEventDef, EventDef } from './events.ts'
import type { Queryable, Writable } from './query-builder.ts'

/** Who produced the event being materialized, and where it sits in the log. */
export interface EventMeta {
  readonly name: string
  readonly eventId: string
  readonly seqNum: SeqNum
  readonly clientId: string
  readonly sessionId: string
}

/** What a materializer gets besides the args; valid while the materializer runs. */
export interface MaterializerContext {
  /** Reads state inside the materializing transaction (sees this commit's earlier writes). */
  query<T>(query: Queryable<T>): T
  query(query: RawRead): Row[]
  /** The event being materialized (keep `ctx.event` itself, not `ctx`, to use it later). */
  readonly event: EventMeta
}

export type RawRead = { readonly query: string | SqlFragment; readonly bindValues?: BindValues }
/** A raw write: `{ sql, bindValues }` or a `sql` fragment. */
export type RawWrite = { readonly sql: string; readonly bindValues?: BindValues } | SqlFragment
export type MaterializerWrite = Writable | RawWrite
export type MaterializerResult = MaterializerWrite | readonly MaterializerWrite[] | void | undefined

export type Materializer<TArgs = any> = (args: TArgs, ctx: MaterializerContext) => MaterializerResult

type ArgsOf<D> = D extends EventDef<string, any, infer O, boolean> ? O : never

/** One materializer per event, keyed by event name, with args typed from the event's schema. */
export type MaterializerMap<E extends Record<string, AnyEventDef>> = {
  [D in E[keyof E] as D['eventName']]: Materializer<ArgsOf<D>>
}

/**
 * Declares the materializers of a set of events; the object is keyed by event name.
 *
 * @example
 * State.SQLite.materializers(events, {
 *   'v1.TodoCreated': ({ id, text }) => tables.todos.insert({ id, text }),
 * })
 */
export function materializers<const E extends Record<string, AnyEventDef>>(
  _events: E,
  impl: NoInfer<MaterializerMap<E>>,
): MaterializerMap<E> {
  return impl
}
