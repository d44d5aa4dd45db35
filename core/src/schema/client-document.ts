import { SchemaError } from '../errors.ts'
import type { SqlFragment } from '../sqlite/sql.ts'
import type { Row } from '../sqlite/db.ts'
import * as columns from './columns.ts'
import { Events, type EventDef, type EventInput } from './events.ts'
import type { Queryable } from './query-builder.ts'
import { validateSync, type StandardSchemaV1 } from './standard-schema.ts'
import { table, type TableDef } from './table.ts'

/** Stands for the current session's id: a client document kept per tab instead of per client. */
export const SessionIdSymbol: unique symbol = Symbol.for('cairn.sessionId')
export type SessionIdSymbol = typeof SessionIdSymbol

export type DocumentId = string | SessionIdSymbol

interface ClientDocumentOptions<TName extends string, S extends StandardSchemaV1> {
  readonly name: TName
  readonly schema: S
  readonly default: { readonly id?: DocumentId; readonly value: StandardSchemaV1.InferOutput<S> }
}

type DocColumns = {
  id: columns.ColumnDefinition<string, false, false>
  value: columns.ColumnDefinition<unknown, false, false>
}

interface SetArgs {
  readonly id: string | null
  readonly value: Record<string, unknown>
}

/**
 * A typed JSON document per client (or per session), stored in a client-only table.
 * Reading a missing document gives the default and writes nothing.
 */
export interface ClientDocumentDef<TName extends string = string, T = unknown> {
  readonly name: TName
  readonly table: TableDef<TName, DocColumns>
  readonly defaultId: DocumentId
  readonly defaultValue: T
  readonly schema: StandardSchemaV1<unknown, T>
  /** The auto-derived client-only event that `set` creates. */
  readonly setEvent: EventDef<`${TName}Set`, SetArgs, SetArgs, true>
  /** A query for the document's value (the default while it was never set). */
  get(id?: DocumentId): Queryable<T>
  /** The event that merges `value` (shallowly) into the document; commit it. */
  set(value: Partial<T>, id?: DocumentId): EventInput<`${TName}Set`, SetArgs>
}

const setArgsSchema: StandardSchemaV1<SetArgs, SetArgs> = {
  '~standard': {
    version: 1,
    vendor: 'cairn',
    validate(input) {
      const v = input as Partial<SetArgs> | null
      if (typeof v !== 'object' || v === null) return { issues: [{ message: 'expected { id, value }' }] }
      if (v.id !== null && typeof v.id !== 'string') return { issues: [{ message: 'expected a string or null', path: ['id'] }] }
      if (typeof v.value !== 'object' || v.value === null || Array.isArray(v.value)) {
        return { issues: [{ message: 'expected an object with the fields to set', path: ['value'] }] }
      }
      return { value: v as SetArgs }
    },
  },
}

/**
 * Defines a client document.
 *
 * @example
 * const ui = State.SQLite.clientDocument({ name: 'ui', schema: z.object({ filter: z.enum(['all', 'done']) }),
 *                                          default: { value: { filter: 'all' } } })
 * queryDb(ui.get())                       // { filter: 'all' } until set
 * store.commit(ui.set({ filter: 'done' }))
 */
export function clientDocument<const TName extends string, S extends StandardSchemaV1>(
  options: ClientDocumentOptions<TName, S>,
): ClientDocumentDef<TName, StandardSchemaV1.InferOutput<S>> {
  type T = StandardSchemaV1.InferOutput<S>
  const { name, schema } = options
  const defaultId = options.default.id ?? 'default'
  const defaultValue = options.default.value
  const check = validateSync(schema, defaultValue, `client document "${name}"`)
  if (check.issues !== undefined)
    throw new SchemaError(
      `The default value of client document "${name}" does not match its schema: ${check.issues.map((i) => i.message).join('; ')}.`,
    )
  const docTable = table({
    name,
    columns: { id: columns.text({ primaryKey: true }), value: columns.json() },
    clientOnly: true,
  }) as unknown as TableDef<TName, DocColumns>
  const setEvent = Events.clientOnly({ name: `${name}Set` as `${TName}Set`, schema: setArgsSchema })

  const get = (id: DocumentId = defaultId): Queryable<T> => {
    const bindValues = [typeof id === 'symbol' ? SESSION_BIND : id]
    const sqlFragment: SqlFragment = { query: `SELECT "value" FROM "${name}" WHERE "id" = ?`, bindValues }
    return {
      asSql: () => sqlFragment,
      // a copy of the default, so a caller mutating the result cannot change the definition
      decodeResult: (rows: Row[]) => (rows.length === 0 ? structuredClone(defaultValue) : (JSON.parse(rows[0]!.value as string) as T)),
      readTables: [name],
      usesSessionId: typeof id === 'symbol',
    }
  }
  const set = (value: Partial<T>, id: DocumentId = defaultId) =>
    setEvent({ id: typeof id === 'symbol' ? null : id, value: value as Record<string, unknown> })

  return { name, table: docTable, defaultId, defaultValue, schema: schema as StandardSchemaV1<unknown, T>, setEvent, get, set }
}

/** The bind value standing for the session id until a store resolves it. */
export const SESSION_BIND = '\u0000cairn:sessionId'

export function isClientDocument(value: unknown): value is ClientDocumentDef {
  return typeof value === 'object' && value !== null && 'setEvent' in value && 'defaultValue' in value
}

/** The materializer of a document's `set` event: shallow merge into the current value, validated. */
export function clientDocumentMaterializer(doc: ClientDocumentDef) {
  return (args: SetArgs, ctx: { query<R>(q: Queryable<R>): R; readonly event: { readonly sessionId: string } }) => {
    const id = args.id ?? ctx.event.sessionId
    const current = ctx.query(doc.get(id)) as Record<string, unknown>
    const next = { ...current, ...args.value }
    const result = validateSync(doc.schema, next, `client document "${doc.name}"`)
    if (result.issues !== undefined) {
      const detail = result.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')
      throw new SchemaError(`Setting client document "${doc.name}" gives an invalid value: ${detail}.`)
    }
    return {
      sql: `INSERT INTO "${doc.name}" ("id", "value") VALUES (?, ?) ON CONFLICT ("id") DO UPDATE SET "value" = excluded."value"`,
      bindValues: [id, JSON.stringify(result.value)],
    }
  }
}
