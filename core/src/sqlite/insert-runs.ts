/**
 * Runs of one-row inserts, run as multi-row inserts. A 10,000-event import materializes 10,000
 * `INSERT INTO "todos" (...) VALUES (?, ?, ?, ?)`; SQLite runs a statement of 64 rows in a bit
 * more than the time of one row's B-tree work times 64, without 63 of the per-statement costs
 * (bind calls, step, reset, the program's start). Row triggers, rowids and constraints behave
 * the same: SQLite inserts the rows of a VALUES list one by one, in order.
 */

/** The most rows in one statement; chunks below it use ROW_CHUNKS, then single rows. */
export const ROW_CHUNKS = [64, 16, 4] as const
/** SQLite's default SQLITE_MAX_VARIABLE_NUMBER (since 3.32). */
const MAX_PARAMS = 32_766

// only statements of exactly this form: a table, its columns, and one row of placeholders
const ONE_ROW_INSERT = /^INSERT INTO ("(?:[^"]|"")+") (\((?:"(?:[^"]|"")+")(?:, "(?:[^"]|"")+")*\)) VALUES (\(\?(?:, \?)*\))$/

interface Shape {
  readonly columns: number
  /** The statement for each of ROW_CHUNKS, made when first needed. */
  readonly sql: (string | undefined)[]
  readonly head: string
  readonly row: string
}

const shapes = new Map<string, Shape | null>()

function shapeOf(sql: string): Shape | null {
  let shape = shapes.get(sql)
  if (shape !== undefined) return shape
  const m = ONE_ROW_INSERT.exec(sql)
  shape = m === null ? null : { columns: (m[3]!.length - 1) / 3, sql: [], head: `INSERT INTO ${m[1]} ${m[2]} VALUES `, row: m[3]! }
  // statements are few (one per insert shape); a bound keeps odd raw SQL from growing it forever
  if (shapes.size < 1024) shapes.set(sql, shape)
  return shape
}

/** A plain one-row insert of the form `multiRowInsert` chunks (see `replayWrites`). */
export function isOneRowInsert(sql: string): boolean {
  return shapeOf(sql) !== null
}

/**
 * How many of `sql[from..]` form a run that `multiRowInsert` can run together: the same plain
 * one-row insert, each with its own bind values. 1 when there is no such run.
 */
export function insertRunLength(sql: readonly string[], from: number): number {
  const first = sql[from]!
  if (from + 1 >= sql.length || sql[from + 1] !== first || shapeOf(first) === null) return 1
  let end = from + 2
  while (end < sql.length && sql[end] === first) end++
  return end - from
}

/**
 * The largest chunk of a run of `rows` one-row inserts of `sql` to run as one statement, and
 * that statement; `rows: 1` means run the next one alone.
 */
export function insertChunk(sql: string, rows: number): { readonly rows: number; readonly sql: string } {
  const shape = shapeOf(sql)
  if (shape === null) return { rows: 1, sql }
  for (let i = 0; i < ROW_CHUNKS.length; i++) {
    const n = ROW_CHUNKS[i]!
    if (n > rows || n * shape.columns > MAX_PARAMS) continue
    const chunkSql = (shape.sql[i] ??= shape.head + Array.from({ length: n }, () => shape.row).join(', '))
    return { rows: n, sql: chunkSql }
  }
  return { rows: 1, sql }
}
