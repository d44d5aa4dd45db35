import { MaterializerError, SchemaError } from '../errors.ts'
import { clientDocumentMaterializer, isClientDocument, type ClientDocumentDef } from './client-document.ts'
import type { AnyEventDef } from './events.ts'
import type { Materializer } from './materializers.ts'
import { tableDdl, type TableDef } from './table.ts'

export type TableLike = TableDef<string, any> | ClientDocumentDef<string, any>

export interface StateDef<TTables extends Record<string, TableLike> = Record<string, TableLike>> {
  readonly tables: TTables
  readonly materializers: Readonly<Record<string, Materializer>>
  /** The materializers' version, when the app names it (see `makeState`). */
  readonly version?: string | number | undefined
}

/**
 * Bundles the state tables and their materializers. The state is rebuilt from the eventlog at
 * boot when the tables changed, or when the materializer of an event in the log changed. A
 * materializer is known by a hash of its source text (`fn.toString()`), unless `version` is
 * given: then by that version alone, and bumping it is how the app says the logic changed.
 * Prefer `version` when a minifier renames things from one build to the next, or when
 * materializers call helpers whose changes their own source does not show.
 *
 * @example
 * State.SQLite.makeState({ tables, materializers })               // source hashes
 * State.SQLite.makeState({ tables, materializers, version: 3 })   // bump when the logic changes
 */
export function makeState<const TTables extends Record<string, TableLike>>(options: {
  readonly tables: TTables
  readonly materializers: object
  readonly version?: string | number
}): StateDef<TTables> {
  if (!isObject(options?.tables)) throw new SchemaError('makeState needs tables: { tables: { todos }, materializers }.')
  if (!isObject(options.materializers))
    throw new SchemaError('makeState needs materializers: { tables, materializers: State.SQLite.materializers(events, { ... }) }.')
  const { version } = options
  if (
    version !== undefined &&
    !(typeof version === 'string' && version.length > 0) &&
    !(typeof version === 'number' && Number.isFinite(version))
  )
    throw new SchemaError(`makeState's version must be a number or a non-empty string (got ${String(version)}); e.g. version: 2.`)
  return { tables: options.tables, materializers: options.materializers as Record<string, Materializer>, version }
}

export type UnknownEventHandling = 'warn' | 'ignore' | 'fail'

/** A complete, checked schema: what `createStorePromise` takes. */
export interface Schema<
  TEvents extends Record<string, AnyEventDef> = Record<string, AnyEventDef>,
  TTables extends Record<string, TableLike> = Record<string, TableLike>,
> {
  readonly events: TEvents
  readonly tables: TTables
  /** Every event by name, including the derived client-document events. */
  readonly eventsByName: ReadonlyMap<string, AnyEventDef>
  readonly materializers: ReadonlyMap<string, Materializer>
  /** Every state table by name, including client-document tables. */
  readonly tablesByName: ReadonlyMap<string, TableDef>
  /** Tables only client-only events may write. */
  readonly clientOnlyTables: ReadonlySet<string>
  readonly ddl: readonly string[]
  /** Stable hash of the state tables' definitions: when it changes, state is rebuilt. */
  readonly stateHash: string
  /**
   * What each event's materialization is known by (a hash of its materializer's source, and of
   * `migrate` for an event that has a newer version; or `makeState`'s version): when it changes
   * and the eventlog holds events of that name, state is rebuilt.
   */
  readonly materializerHashes: ReadonlyMap<string, string>
  readonly unknownEventHandling: UnknownEventHandling
}

/**
 * Checks and assembles a schema: every event needs a materializer, names must be unique.
 *
 * @example
 * const schema = makeSchema({ events, state: State.SQLite.makeState({ tables, materializers }) })
 */
export function makeSchema<const TEvents extends Record<string, AnyEventDef>, const TTables extends Record<string, TableLike>>(options: {
  readonly events: TEvents
  readonly state: StateDef<TTables>
  readonly unknownEventHandling?: UnknownEventHandling
}): Schema<TEvents, TTables> {
  const example = 'makeSchema({ events, state: State.SQLite.makeState({ tables, materializers }) })'
  if (!isObject(options?.events)) throw new SchemaError(`makeSchema needs events, an object of event definitions: ${example}.`)
  if (!isObject(options.state) || !isObject(options.state.tables)) throw new SchemaError(`makeSchema needs state: ${example}.`)
  const eventsByName = new Map<string, AnyEventDef>()
  const materializers = new Map<string, Materializer>()
  const tablesByName = new Map<string, TableDef>()
  const clientOnlyTables = new Set<string>()

  /** Older event name -> the newer event whose materializer takes its events (after migrate). */
  const upcastTo = new Map<string, AnyEventDef>()

  const addEvent = (def: AnyEventDef) => {
    if (typeof def !== 'function' || typeof def.eventName !== 'string')
      throw new SchemaError('events must hold event definitions made with Events.synced / Events.clientOnly.')
    const existing = eventsByName.get(def.eventName)
    if (existing !== undefined && existing !== def)
      throw new SchemaError(`Two events are named "${def.eventName}"; event names must be unique.`)
    eventsByName.set(def.eventName, def)
    const from = def.upcast?.from
    if (from === undefined) return
    const other = upcastTo.get(from.eventName)
    if (other !== undefined && other !== def)
      throw new SchemaError(
        `Events "${other.eventName}" and "${def.eventName}" both migrate from "${from.eventName}"; an event has at most one next version.`,
      )
    upcastTo.set(from.eventName, def)
    // the older version stays known (its events stay in logs forever), through its successor
    addEvent(from)
  }
  for (const def of Object.values(options.events)) addEvent(def)

  for (const [key, entry] of Object.entries(options.state.tables)) {
    const def = (isClientDocument(entry) ? entry.table : entry) as TableDef
    if (typeof def?.name !== 'string' || def.columns === undefined)
      throw new SchemaError(`state.tables.${key} is not a table: define it with State.SQLite.table or clientDocument.`)
    if (tablesByName.has(def.name)) throw new SchemaError(`Two tables are named "${def.name}"; table names must be unique.`)
    tablesByName.set(def.name, def as TableDef)
    if (def.clientOnly) clientOnlyTables.add(def.name)
    if (isClientDocument(entry)) {
      addEvent(entry.setEvent)
      materializers.set(entry.setEvent.eventName, clientDocumentMaterializer(entry) as Materializer)
    }
  }

  for (const [name, fn] of Object.entries(options.state.materializers)) {
    if (!eventsByName.has(name))
      throw new SchemaError(
        `There is a materializer for "${name}" but no event of that name; add the event to the schema or remove the materializer.`,
      )
    if (typeof fn !== 'function') throw new SchemaError(`The materializer for "${name}" must be a function.`)
    const next = upcastTo.get(name)
    if (next !== undefined)
      throw new SchemaError(
        `"${name}" has a materializer, but "${next.eventName}" migrates from it: its events are materialized by the materializer of "${next.eventName}" after migrate. Remove the materializer of "${name}" (and "${name}" from events; it stays known through from).`,
      )
    materializers.set(name, fn)
  }
  for (const name of eventsByName.keys()) {
    if (!materializers.has(name) && !upcastTo.has(name))
      throw new SchemaError(`Event "${name}" has no materializer; add one to State.SQLite.materializers.`)
  }
  const version = options.state.version
  const materializerHashes = new Map<string, string>()
  for (const [name, fn] of materializers) materializerHashes.set(name, version !== undefined ? `v:${version}` : hash(fn.toString()))
  // older versions: their successor's materializer after migrate (chains resolve newest first)
  const resolve = (name: string): Materializer => {
    const known = materializers.get(name)
    if (known !== undefined) return known
    const next = upcastTo.get(name)!
    const target = resolve(next.eventName)
    const { migrate } = next.upcast!
    const migrated = upcastMaterializer(name, next, migrate, target)
    materializers.set(name, migrated)
    const nextHash = materializerHashes.get(next.eventName)!
    materializerHashes.set(name, version !== undefined ? `v:${version}` : hash(`${migrate.toString()}\n${nextHash}`))
    return migrated
  }
  for (const name of upcastTo.keys()) resolve(name)

  const sorted = [...tablesByName.values()].sort((a, b) => (a.name < b.name ? -1 : 1))
  const ddl = sorted.flatMap((t) => tableDdl(t))
  const hashInput = sorted
    .map(
      (t) =>
        `${t.clientOnly ? 'client ' : ''}${Object.entries(t.columns)
          .map(([n, c]) => `${n}:${c.kind}`)
          .join(',')}`,
    )
    .concat(ddl)
  return {
    events: options.events,
    tables: options.state.tables,
    eventsByName,
    materializers,
    tablesByName,
    clientOnlyTables,
    ddl,
    stateHash: hash(hashInput.join('\n')),
    materializerHashes,
    unknownEventHandling: options.unknownEventHandling ?? 'warn',
  }
}

/**
 * The materializer of an older event version: its args go through `migrate`, then through JSON
 * and the newer event's schema (as if they had been committed as the newer event), then to the
 * newer event's materializer. The log keeps the older event as it was.
 */
function upcastMaterializer(name: string, next: AnyEventDef, migrate: (args: any) => unknown, target: Materializer): Materializer {
  return (args, ctx) => {
    let upcast: unknown
    try {
      upcast = next.decode(JSON.stringify(migrate(args)))
    } catch (e) {
      throw new MaterializerError(
        name,
        `Migrating "${name}" to "${next.eventName}" failed: ${(e as Error)?.message ?? String(e)}. Fix migrate in the definition of "${next.eventName}" so that it returns valid args for it.`,
        { cause: e },
      )
    }
    return target(upcast, ctx)
  }
}

/** cyrb53: a fast, well-distributed 53-bit string hash; stable across runs and platforms. */
function hash(input: string): string {
  let h1 = 0xdeadbeef
  let h2 = 0x41c6ce57
  for (let i = 0; i < input.length; i++) {
    const ch = input.charCodeAt(i)
    h1 = Math.imul(h1 ^ ch, 2654435761)
    h2 = Math.imul(h2 ^ ch, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36)
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null
}
