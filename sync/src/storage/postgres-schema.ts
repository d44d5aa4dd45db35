import type pg from 'pg'

/** The schema version this code reads and writes; stored in `cairn_sync_meta`. */
export const SCHEMA_VERSION = 1

/** Quoted, schema-qualified names of the storage's tables, and its NOTIFY channel. */
export interface PgNames {
  readonly schema: string
  readonly meta: string
  readonly stores: string
  readonly events: string
  /** The NOTIFY/LISTEN channel: one per schema, so two deployments in one database stay apart. */
  readonly channel: string
}

export function pgNames(schema: string, escapeIdentifier: (s: string) => string): PgNames {
  const q = (table: string) => `${escapeIdentifier(schema)}.${escapeIdentifier(table)}`
  return {
    schema,
    meta: q('cairn_sync_meta'),
    stores: q('cairn_sync_stores'),
    events: q('cairn_sync_events'),
    // channel names are identifiers: at most 63 bytes
    channel: `cairn_sync_${schema}`.slice(0, 63),
  }
}

/**
 * Migrations by target version: migration N takes a database at version N-1 to N. Version 1 is
 * the first layout. A later layout change appends a step here and bumps `SCHEMA_VERSION`.
 */
function migrations(n: PgNames): Record<number, string> {
  return {
    1: `
CREATE TABLE IF NOT EXISTS ${n.stores} (
  store_id text PRIMARY KEY,
  backend_id text NOT NULL,
  head bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS ${n.events} (
  store_id text NOT NULL,
  seq bigint NOT NULL,
  event_id text NOT NULL,
  client_id text NOT NULL,
  producer_seq bigint NOT NULL,
  session_id text NOT NULL,
  name text NOT NULL,
  args text NOT NULL,
  principal text,
  PRIMARY KEY (store_id, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS cairn_sync_events_producer ON ${n.events} (store_id, client_id, producer_seq);
`,
  }
}

/**
 * Creates the tables, or migrates them to `SCHEMA_VERSION`, in one transaction under an advisory
 * lock, so nodes starting together do it once. A database written by a newer version is refused:
 * this code would misread it.
 */
export async function migrate(client: pg.ClientBase, n: PgNames): Promise<void> {
  await client.query('BEGIN')
  try {
    // one lock per schema: hashtext of the schema name, in a namespace of our own
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`cairn_sync:${n.schema}`])
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${n.meta.split('.')[0]}`)
    await client.query(`CREATE TABLE IF NOT EXISTS ${n.meta} (key text PRIMARY KEY, value text NOT NULL)`)
    const row = (await client.query<{ value: string }>(`SELECT value FROM ${n.meta} WHERE key = 'schema_version'`)).rows[0]
    const current = row === undefined ? 0 : Number(row.value)
    if (current > SCHEMA_VERSION) {
      throw new Error(
        `postgresStorage: the tables in schema "${n.schema}" have schema version ${current}, newer than this @cairn/sync (${SCHEMA_VERSION}); upgrade @cairn/sync on every node.`,
      )
    }
    const steps = migrations(n)
    for (let v = current + 1; v <= SCHEMA_VERSION; v++) await client.query(steps[v]!)
    await client.query(
      `INSERT INTO ${n.meta} (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
      [String(SCHEMA_VERSION)],
    )
    await client.query('COMMIT')
  } catch (e) {
    await client.query('ROLLBACK').catch((rollbackError: unknown) => {
      throw new AggregateError([e, rollbackError], `postgresStorage: migrating schema "${n.schema}" failed`)
    })
    throw e
  }
}
