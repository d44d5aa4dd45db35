/**
 * Every error `@cairn/core` and the UI adapters throw is a `CairnError` (`SqliteError` and
 * `SyncError` included) with a stable `code`, so apps can branch on `err.code` and show the
 * message, which says what was wrong and what to do.
 */
export class CairnError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

export interface Issue {
  /** Dotted path of the failing field, e.g. `meta.tags.0`; empty for the value itself. */
  readonly path: string
  readonly message: string
}

/** Validation issues as one line: `path: message; path: message`. */
export function formatIssues(issues: readonly Issue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')
}

/** Event args failed the event's schema; nothing was committed. */
export class InvalidEventArgsError extends CairnError {
  constructor(
    readonly eventName: string,
    readonly issues: readonly Issue[],
  ) {
    super('InvalidEventArgs', `Invalid args for event "${eventName}": ${formatIssues(issues)}. Fix the args passed to the event creator.`)
  }
}

/** A materializer threw or produced a write SQLite refused; the commit was rolled back. */
export class MaterializerError extends CairnError {
  readonly table: string | undefined
  readonly column: string | undefined

  constructor(
    readonly eventName: string,
    message: string,
    options?: { cause?: unknown; table?: string; column?: string },
  ) {
    super('MaterializerFailed', message, options)
    this.table = options?.table
    this.column = options?.column
  }
}

/** A query (builder or raw SQL) failed to prepare or run. */
export class QueryError extends CairnError {
  constructor(
    readonly label: string,
    readonly sql: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('QueryFailed', message, options)
  }
}

/** The store was used after `shutdown()`. */
export class StoreShutdownError extends CairnError {
  constructor(
    readonly operation: string,
    readonly reason: string,
  ) {
    super('StoreShutdown', `Cannot ${operation}: the store was shut down (${reason}). Create a new store with createStorePromise().`)
  }
}

/** A schema definition is inconsistent (duplicate names, unknown columns, bad options). */
export class SchemaError extends CairnError {
  constructor(message: string) {
    super('InvalidSchema', message)
  }
}

/** An event in the eventlog has no definition in the current schema and the policy is `'fail'`. */
export class UnknownEventError extends CairnError {
  constructor(readonly eventName: string) {
    super(
      'UnknownEvent',
      `Event "${eventName}" is in the eventlog but not in the schema. Add its definition (events are never removed), or set unknownEventHandling to 'warn' or 'ignore'.`,
    )
  }
}

/** A value could not be encoded for, or decoded from, a column. */
export class ColumnValueError extends CairnError {
  constructor(
    readonly table: string,
    readonly column: string,
    message: string,
  ) {
    super('InvalidColumnValue', `${table}.${column}: ${message}`)
  }
}
