import { InvalidEventArgsError, SchemaError } from '../errors.ts'
import { requireStandardSchema, validateSync, type StandardSchemaV1 } from './standard-schema.ts'

/**
 * An event ready to commit: created by calling an event definition, args already validated. Its
 * JSON is made when first read (by the leader, after the commit); commit the object itself, as
 * a spread or a structured clone of it keeps only `name` and `args`.
 */
export interface EventInput<TName extends string = string, TArgs = unknown> {
  readonly name: TName
  /** The validated (schema output) args the materializer receives. */
  readonly args: TArgs
  /** The args as JSON, exactly what is stored in the eventlog and replayed. */
  readonly json: string
}

/**
 * An event definition. Call it with args to get a committable event; wrong args throw an
 * `InvalidEventArgsError` naming the event and the field.
 */
export interface EventDef<TName extends string = string, TInput = any, TOutput = any, TClientOnly extends boolean = boolean> {
  (args: TInput): EventInput<TName, TOutput>
  readonly eventName: TName
  readonly schema: StandardSchemaV1<TInput, TOutput>
  readonly clientOnly: TClientOnly
  /** Decodes stored JSON args (from the eventlog) back into validated args. */
  decode(json: string): TOutput
  /**
   * The previous version this event replaces, and how its args become this event's: logged
   * events of `from` keep their name and JSON, and are materialized by this event's
   * materializer with `migrate`d args. Undefined for an event without a previous version.
   */
  readonly upcast?: Upcast | undefined
}

export type AnyEventDef = EventDef<string, any, any, boolean>

/** How an older event's args become a newer event's (see `from` and `migrate` of `Events.synced`). */
export interface Upcast {
  readonly from: AnyEventDef
  readonly migrate: (args: any) => unknown
}

type OutputOf<D> = D extends EventDef<string, any, infer O, boolean> ? O : never

interface EventOptions<TName extends string, S extends StandardSchemaV1, D extends AnyEventDef = AnyEventDef> {
  readonly name: TName
  readonly schema: S
  /**
   * The event this one is the next version of (its definition stays in the app, never in
   * `events`): its logged events keep their name and JSON forever and are materialized by this
   * event's materializer, with args made by `migrate`. Give both or neither.
   */
  readonly from?: D
  /** Turns `from`'s (validated) args into this event's args; they are validated by `schema` after. Pure and deterministic. */
  readonly migrate?: (args: OutputOf<D>) => StandardSchemaV1.InferInput<S>
}

function define<TName extends string, S extends StandardSchemaV1>(
  options: EventOptions<TName, S>,
  clientOnly: boolean,
): EventDef<TName, StandardSchemaV1.InferInput<S>, StandardSchemaV1.InferOutput<S>, boolean> {
  if (options === null || typeof options !== 'object') {
    throw new SchemaError(
      'Events.synced and Events.clientOnly take { name, schema }, e.g. Events.synced({ name: "v1.TodoCreated", schema: z.object({ id: z.string() }) }).',
    )
  }
  const { name, schema } = options
  if (typeof name !== 'string' || name.length === 0) throw new SchemaError('An event needs a non-empty name, e.g. "v1.TodoCreated".')
  requireStandardSchema(schema, `Event "${name}"`)
  const upcast = checkUpcast(options, name, clientOnly)
  const what = `Event "${name}"`
  const validate = (input: unknown): StandardSchemaV1.InferOutput<S> => {
    const result = validateSync(schema, input, what)
    if (result.issues !== undefined) throw new InvalidEventArgsError(name, result.issues)
    return result.value
  }
  const create = (args: StandardSchemaV1.InferInput<S>) => {
    // Validate the JSON round trip, not the original: the eventlog stores JSON and replays it,
    // so args that do not survive JSON (Dates, undefined, Maps) are refused at commit time.
    // Plain data gets a copy instead of the round trip: parsing dominated creating an event, and
    // the copy is what JSON.parse(json) would give, since json is the copy's stringification.
    copiedNested = false
    copiedBytes = 0
    const copy = copyPlainJson(args, 0)
    const nested = copiedNested
    if (copy !== NOT_PLAIN) {
      const value = validate(copy)
      // The JSON is made when the leader logs the event, after the commit: unless the args share
      // an object with the copy (a validator that hands its input back, or nested values), which
      // a materializer could change before then.
      return value === copy || nested
        ? new CreatedEvent(name, value, JSON.stringify(copy))
        : new CreatedEvent(name, value, undefined, copy, copiedBytes)
    }
    let json: string | undefined
    try {
      json = JSON.stringify(args)
    } catch (e) {
      throw new InvalidEventArgsError(name, [{ path: '', message: `args must be JSON-serializable (${(e as Error).message})` }])
    }
    if (json === undefined) throw new InvalidEventArgsError(name, [{ path: '', message: 'args are missing' }])
    return new CreatedEvent(name, validate(JSON.parse(json)), json)
  }
  return Object.assign(create, {
    eventName: name,
    schema: schema as StandardSchemaV1<StandardSchemaV1.InferInput<S>, StandardSchemaV1.InferOutput<S>>,
    clientOnly,
    decode: (json: string) => validate(JSON.parse(json)),
    upcast,
  })
}

/** `from` and `migrate` together, from an event of the same kind with another name; or neither. */
function checkUpcast(options: EventOptions<string, StandardSchemaV1>, name: string, clientOnly: boolean): Upcast | undefined {
  const { from, migrate } = options
  if (from === undefined && migrate === undefined) return undefined
  const example = `Events.synced({ name: '${name}', schema, from: previousVersion, migrate: (args) => ({ ...args, newField: 0 }) })`
  if (typeof from !== 'function' || typeof from.eventName !== 'string')
    throw new SchemaError(`Event "${name}" has migrate but no from: pass the event definition it replaces, e.g. ${example}.`)
  if (typeof migrate !== 'function')
    throw new SchemaError(`Event "${name}" has from ("${from.eventName}") but no migrate function: ${example}.`)
  if (from.eventName === name)
    throw new SchemaError(
      `Event "${name}" cannot migrate from an event of the same name: give the new version a new name (e.g. "v2.${name.replace(/^v\d+\./, '')}").`,
    )
  if (from.clientOnly !== clientOnly)
    throw new SchemaError(
      `Event "${name}" is ${clientOnly ? 'client-only' : 'synced'} but migrates from "${from.eventName}", which is ${from.clientOnly ? 'client-only' : 'synced'}; both versions must be of the same kind.`,
    )
  return { from, migrate }
}

/** An event made by an event definition: its JSON is made once, when first read. */
export class CreatedEvent<TName extends string = string, TArgs = unknown> implements EventInput<TName, TArgs> {
  #encoded: string | undefined
  /** Plain JSON data of our own, sharing no object with `args`, until it is encoded. */
  #source: unknown
  /** At least the UTF-8 size of the JSON of `#source`, counted while copying it. */
  readonly #bound: number

  constructor(
    readonly name: TName,
    readonly args: TArgs,
    encoded: string | undefined,
    source?: unknown,
    bound = 0,
  ) {
    this.#encoded = encoded
    this.#source = source
    this.#bound = bound
  }

  /**
   * @internal An upper bound of the JSON's size in UTF-8 bytes, without making the JSON: a
   * commit checks the sync server's event size limit exactly only when the bound is over it.
   */
  get maxJsonBytes(): number {
    // a UTF-16 unit is at most 3 bytes of UTF-8 (a lone surrogate is escaped as 6 ASCII bytes,
    // but JSON.stringify makes that escape in the string, so it is counted there)
    return this.#encoded !== undefined ? 3 * this.#encoded.length : this.#bound
  }

  get json(): string {
    if (this.#encoded === undefined) {
      this.#encoded = JSON.stringify(this.#source)
      this.#source = undefined
    }
    return this.#encoded
  }
}

/**
 * Event definitions. `synced` events go to the sync server; `clientOnly` events stay on this
 * client and may only write client-only tables.
 *
 * @example
 * const todoCreated = Events.synced({ name: 'v1.TodoCreated', schema: z.object({ id: z.string(), text: z.string() }) })
 * store.commit(todoCreated({ id: 'a', text: 'Buy milk' }))
 *
 * // the next version: v1 events stay in the log as they are, and reach v2's materializer migrated
 * const todoCreatedV2 = Events.synced({
 *   name: 'v2.TodoCreated',
 *   schema: z.object({ id: z.string(), text: z.string(), priority: z.number() }),
 *   from: todoCreated,
 *   migrate: (v1) => ({ ...v1, priority: 0 }),
 * })
 */
export const Events = {
  synced: <const TName extends string, S extends StandardSchemaV1, D extends AnyEventDef = AnyEventDef>(
    options: EventOptions<TName, S, D>,
  ) =>
    define(options as EventOptions<TName, S>, false) as EventDef<
      TName,
      StandardSchemaV1.InferInput<S>,
      StandardSchemaV1.InferOutput<S>,
      false
    >,
  clientOnly: <const TName extends string, S extends StandardSchemaV1, D extends AnyEventDef = AnyEventDef>(
    options: EventOptions<TName, S, D>,
  ) =>
    define(options as EventOptions<TName, S>, true) as EventDef<
      TName,
      StandardSchemaV1.InferInput<S>,
      StandardSchemaV1.InferOutput<S>,
      true
    >,
}

/** Whether the last copyPlainJson copied an object or array inside the top-level value. */
let copiedNested = false
/**
 * An upper bound of the UTF-8 size of the JSON of what the last copyPlainJson copied: a string
 * costs at most 6 bytes a UTF-16 unit (a `\u001f` escape) plus its quotes; a number at most 24
 * characters; punctuation 1 byte a member.
 */
let copiedBytes = 0

const NOT_PLAIN: unique symbol = Symbol('not plain JSON')
const MAX_DEPTH = 64

/**
 * A copy of `value` made of plain objects, arrays, strings, finite numbers, booleans and null,
 * such that `JSON.parse(JSON.stringify(copy))` equals it exactly (same keys in the same order);
 * NOT_PLAIN for anything else (class instances, toJSON, undefined, -0, NaN, holes, `__proto__`
 * keys, deep nesting), which takes the JSON round trip instead.
 */
function copyPlainJson(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      copiedBytes += 6 * value.length + 3
      return value
    case 'boolean':
      copiedBytes += 6
      return value
    case 'number':
      copiedBytes += 25
      return Number.isFinite(value) && !Object.is(value, -0) ? value : NOT_PLAIN
    case 'object': {
      copiedBytes += 6
      if (value === null) return null
      if (depth >= MAX_DEPTH) return NOT_PLAIN
      if (depth > 0) copiedNested = true
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype || Object.hasOwn(value, 'toJSON')) return NOT_PLAIN
        const out = new Array<unknown>(value.length)
        for (let i = 0; i < value.length; i++) {
          if (!(i in value)) return NOT_PLAIN
          const c = copyPlainJson(value[i], depth + 1)
          if (c === NOT_PLAIN) return NOT_PLAIN
          out[i] = c
        }
        return out
      }
      const proto = Object.getPrototypeOf(value)
      if ((proto !== Object.prototype && proto !== null) || 'toJSON' in value) return NOT_PLAIN
      const out: Record<string, unknown> = {}
      // for-in, not Object.keys: no array of keys per event; inherited keys are not JSON's
      for (const key in value) {
        if (!Object.hasOwn(value, key)) continue
        if (key === '__proto__') return NOT_PLAIN
        copiedBytes += 6 * key.length + 3
        const c = copyPlainJson((value as Record<string, unknown>)[key], depth + 1)
        if (c === NOT_PLAIN) return NOT_PLAIN
        out[key] = c
      }
      return out
    }
    default:
      return NOT_PLAIN
  }
}
