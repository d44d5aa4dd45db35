import { ColumnValueError } from '../errors.ts'
import type { SqlValue } from '../sqlite/sql.ts'
import { validateSync, type StandardSchemaV1 } from './standard-schema.ts'

export type ColumnKind = 'text' | 'integer' | 'real' | 'boolean' | 'json' | 'datetime' | 'datetimeInteger' | 'blob'
export type SqlType = 'TEXT' | 'INTEGER' | 'REAL' | 'BLOB'

/** A default: a value, a thunk evaluated per insert, or an SQL expression. */
export type ColumnDefault<T> = T | (() => T) | { readonly sql: string }

export interface ColumnOptions<T> {
  readonly primaryKey?: boolean
  readonly nullable?: boolean
  readonly default?: ColumnDefault<T>
  readonly autoIncrement?: boolean
}

/**
 * A column of a state table. `T` is the decoded JS type; `Nullable` adds `null`; `Optional` makes
 * the column optional on insert (it has a default, is nullable, or auto-increments).
 */
export interface ColumnDefinition<T = unknown, Nullable extends boolean = boolean, Optional extends boolean = boolean> {
  readonly kind: ColumnKind
  readonly sqlType: SqlType
  readonly primaryKey: boolean
  readonly nullable: Nullable
  readonly default: ColumnDefault<T> | undefined
  readonly autoIncrement: boolean
  readonly schema: StandardSchemaV1 | undefined
  /** Type carriers only; never set at runtime. */
  readonly '~type'?: T
  readonly '~optional'?: Optional
}

export type AnyColumn = ColumnDefinition<any, boolean, boolean>

type IsNullable<O> = O extends { nullable: true } ? true : false
type IsOptional<O> = O extends { default: unknown }
  ? true
  : O extends { nullable: true }
    ? true
    : O extends { autoIncrement: true }
      ? true
      : false
type Column<T, O> = ColumnDefinition<T, IsNullable<O>, IsOptional<O>>

function make<T>(
  kind: ColumnKind,
  sqlType: SqlType,
  options: ColumnOptions<T> & { schema?: StandardSchemaV1 } = {},
): ColumnDefinition<T, boolean, boolean> {
  return {
    kind,
    sqlType,
    primaryKey: options.primaryKey ?? false,
    nullable: options.nullable ?? false,
    default: options.default,
    autoIncrement: options.autoIncrement ?? false,
    schema: options.schema,
  }
}

export const text = <const O extends ColumnOptions<string> = {}>(options?: O) => make<string>('text', 'TEXT', options) as Column<string, O>
export const integer = <const O extends ColumnOptions<number> = {}>(options?: O) =>
  make<number>('integer', 'INTEGER', options) as Column<number, O>
export const real = <const O extends ColumnOptions<number> = {}>(options?: O) => make<number>('real', 'REAL', options) as Column<number, O>
export const boolean = <const O extends ColumnOptions<boolean> = {}>(options?: O) =>
  make<boolean>('boolean', 'INTEGER', options) as Column<boolean, O>
/** ISO-8601 text in SQLite, a `Date` in JS. */
export const datetime = <const O extends ColumnOptions<Date> = {}>(options?: O) =>
  make<Date>('datetime', 'TEXT', options) as Column<Date, O>
/** Milliseconds since the epoch in SQLite, a `Date` in JS. */
export const datetimeInteger = <const O extends ColumnOptions<Date> = {}>(options?: O) =>
  make<Date>('datetimeInteger', 'INTEGER', options) as Column<Date, O>
export const blob = <const O extends ColumnOptions<Uint8Array> = {}>(options?: O) =>
  make<Uint8Array>('blob', 'BLOB', options) as Column<Uint8Array, O>

type JsonOptions = ColumnOptions<unknown> & { readonly schema?: StandardSchemaV1 }
type JsonType<O> = O extends { schema: infer S extends StandardSchemaV1 } ? StandardSchemaV1.InferOutput<S> : unknown
/** JSON text in SQLite; typed and validated on write by `schema` when given. */
export const json = <const O extends JsonOptions = {}>(options?: O) =>
  make<JsonType<O>>('json', 'TEXT', options as ColumnOptions<JsonType<O>>) as Column<JsonType<O>, O>

/** Encodes a JS value for a column, refusing values of the wrong type with a named error. */
export function encodeColumnValue(table: string, name: string, col: AnyColumn, value: unknown): SqlValue {
  if (value === null || value === undefined) {
    if (col.nullable || col.autoIncrement) return null
    throw new ColumnValueError(
      table,
      name,
      `got ${value === null ? 'null' : 'undefined'} but the column is not nullable; pass a value or declare it { nullable: true }.`,
    )
  }
  switch (col.kind) {
    case 'text':
      if (typeof value === 'string') return value
      break
    case 'integer':
      if (typeof value === 'number' && Number.isInteger(value)) return value
      if (typeof value === 'bigint') return value
      break
    case 'real':
      // SQLite stores NaN as NULL: refuse it rather than lose the value silently
      if (typeof value === 'number' && !Number.isNaN(value)) return value
      break
    case 'boolean':
      if (typeof value === 'boolean') return value ? 1 : 0
      break
    case 'datetime':
      if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString()
      break
    case 'datetimeInteger':
      if (value instanceof Date && !Number.isNaN(value.getTime())) return value.getTime()
      break
    case 'blob':
      if (value instanceof Uint8Array) return value
      break
    case 'json': {
      if (col.schema !== undefined) {
        const result = validateSync(col.schema, value, `${table}.${name}`)
        if (result.issues !== undefined) {
          const detail = result.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')
          throw new ColumnValueError(table, name, `value does not match the column's schema: ${detail}`)
        }
      }
      let text: string | undefined
      try {
        text = JSON.stringify(value)
      } catch (e) {
        throw new ColumnValueError(table, name, `value is not JSON-serializable (${(e as Error).message}).`)
      }
      if (text === undefined) throw new ColumnValueError(table, name, `expected a JSON value, got ${typeof value}.`)
      return text
    }
  }
  throw new ColumnValueError(table, name, `expected ${expected(col.kind)}, got ${describe(value)}.`)
}

/** Decodes an SQLite value read from a column to its JS type. */
export function decodeColumnValue(col: AnyColumn, value: SqlValue): unknown {
  if (value === null) return null
  switch (col.kind) {
    case 'boolean':
      return value !== 0 && value !== 0n
    case 'json':
      return JSON.parse(value as string)
    case 'datetime':
      return new Date(value as string)
    case 'datetimeInteger':
      return new Date(Number(value))
    default:
      return value
  }
}

/** Whether values of this column kind need decoding after a read. */
export function needsDecoding(kind: ColumnKind): boolean {
  return kind === 'boolean' || kind === 'json' || kind === 'datetime' || kind === 'datetimeInteger'
}

function expected(kind: ColumnKind): string {
  switch (kind) {
    case 'text':
      return 'a string'
    case 'integer':
      return 'an integer number'
    case 'real':
      return 'a number'
    case 'boolean':
      return 'a boolean'
    case 'datetime':
    case 'datetimeInteger':
      return 'a valid Date'
    case 'blob':
      return 'a Uint8Array'
    case 'json':
      return 'a JSON value'
  }
}

function describe(value: unknown): string {
  if (value instanceof Date) return 'an invalid Date'
  if (Array.isArray(value)) return 'an array'
  if (Number.isNaN(value)) return 'NaN'
  if (typeof value === 'number' && !Number.isInteger(value)) return `the non-integer ${value}`
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`
}
