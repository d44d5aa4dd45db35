export type SqlValue = string | number | bigint | Uint8Array | null
export type BindValues = readonly SqlValue[]

/** A parameterized SQL fragment: `query` has a `?` for every entry of `bindValues`. */
export interface SqlFragment {
  readonly query: string
  readonly bindValues: BindValues
}

const FRAGMENT = Symbol.for('cairn.sqlFragment')

/**
 * Tagged template that parameterizes: every interpolated value becomes a bind parameter, never
 * SQL text. Nested `sql` fragments are spliced in with their parameters.
 *
 * @example
 * const q = sql`SELECT * FROM todos WHERE text LIKE ${'%milk%'}`
 * // q.query === 'SELECT * FROM todos WHERE text LIKE ?', q.bindValues === ['%milk%']
 */
export function sql(strings: TemplateStringsArray, ...values: readonly unknown[]): SqlFragment {
  let query = strings[0]!
  const bindValues: SqlValue[] = []
  for (let i = 0; i < values.length; i++) {
    const value = values[i]
    if (isSqlFragment(value)) {
      query += value.query
      bindValues.push(...value.bindValues)
    } else {
      query += '?'
      bindValues.push(toSqlValue(value))
    }
    query += strings[i + 1]!
  }
  return markFragment({ query, bindValues })
}

export function isSqlFragment(value: unknown): value is SqlFragment {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[FRAGMENT] === true
}

function markFragment(fragment: SqlFragment): SqlFragment {
  Object.defineProperty(fragment, FRAGMENT, { value: true })
  return fragment
}

/** Converts a JS value to something SQLite can bind; booleans become 0/1, dates ISO text. */
export function toSqlValue(value: unknown): SqlValue {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'bigint':
      return value
    case 'boolean':
      return value ? 1 : 0
    case 'undefined':
      return null
    case 'object':
      if (value === null || value instanceof Uint8Array) return value
      if (value instanceof Date) return value.toISOString()
      return JSON.stringify(value)
    default:
      throw new TypeError(`Cannot bind a ${typeof value} as an SQL value`)
  }
}

/** Quotes an identifier (table or column name) for SQL text. */
export function quoteId(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}
