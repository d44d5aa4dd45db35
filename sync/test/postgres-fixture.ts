import pg from 'pg'
import type { SyncBackend, SyncConnection } from '@cairn/core'
import { afterAll } from 'vitest'
import { createSyncServer } from '../src/server/create-server.ts'
import { postgresStorage, type PostgresStorage, type PostgresStorageOptions } from '../src/storage/postgres.ts'

import { PG_URL } from './postgres-url.ts'

export { PG_URL }

/**
 * Whether PostgreSQL answers. Absent: the PostgreSQL tests skip with a message, except with
 * CI=true, where a missing PostgreSQL fails the run.
 */
export async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2_000 })
  try {
    await client.connect()
    await client.end()
    return true
  } catch (e) {
    const message = `PostgreSQL at ${PG_URL} is unreachable (${(e as Error).message})`
    if (process.env.CI === 'true') throw new Error(`${message}; CI=true: the PostgreSQL tests must run`)
    console.warn(`${message}: skipping the PostgreSQL tests (set PG_TEST_URL, or run with CI=true to make this a failure)`)
    return false
  }
}

export const reachable = await postgresReachable()

/** One admin connection per test file, for schemas and pg_terminate_backend. */
let admin: pg.Pool | undefined
export function adminPool(): pg.Pool {
  admin ??= new pg.Pool({ connectionString: PG_URL, max: 2 })
  return admin
}

const schemas: string[] = []
afterAll(async () => {
  if (admin === undefined) return
  for (const schema of schemas.splice(0)) await admin.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`)
  await admin.end()
  admin = undefined
})

/** A schema of its own for one test (dropped after the file). */
export function freshSchema(): string {
  const schema = `cairn_t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
  schemas.push(schema)
  return schema
}

/** A storage on a schema (a fresh one unless given), quiet unless the test reads its log. */
export function pgStorage(options: Partial<PostgresStorageOptions> & { logs?: string[] } = {}): Promise<PostgresStorage> {
  const { logs, ...rest } = options
  return postgresStorage({
    connectionString: PG_URL,
    schema: freshSchema(),
    log: (m) => logs?.push(m),
    ...rest,
  })
}

/** Terminates the server backends whose application_name is `name` (as a PostgreSQL restart would); returns how many. */
export async function terminate(name: string): Promise<number> {
  const r = await adminPool().query<{ pid: number }>(
    'SELECT pg_terminate_backend(pid) AS pid FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
    [name],
  )
  return r.rowCount ?? 0
}

/** A sync server node on a schema; its connections are named `cairn-t-<name>` (`… listen` for LISTEN). */
export async function startNode(schema: string, name: string, options: { pollMs?: number; logs?: string[] } = {}) {
  const storage = await pgStorage({ schema, applicationName: `cairn-t-${name}`, ...options })
  const server = await createSyncServer({
    port: 0,
    storage,
    authorize: () => ({ principal: 'tester' }),
    limits: { maxConnectionsPerAddress: 5_000, pushesPerSecond: 100_000, longPollMs: 5_000, pullPageSize: 200 },
  })
  return { server, storage, name }
}

/** A subscriber that counts every gap and duplicate instead of skipping them. */
export interface Tail {
  cursor: number
  gaps: number
  duplicates: number
  connected: boolean
  readonly clientId: string
  readonly connection: SyncConnection
}

/** Subscribes to `storeId` as a fresh client; its connection is added to `connections` (closed by the test). */
export function tail(backend: SyncBackend, storeId: string, connections: SyncConnection[]): Tail {
  const clientId = `r-${Math.random().toString(36).slice(2, 9)}`
  const t = { cursor: 0, gaps: 0, duplicates: 0, connected: false, clientId } as Tail
  ;(t as { connection: SyncConnection }).connection = backend.connect(
    { storeId, clientId: () => clientId, sessionId: 's', backendId: () => null, cursor: () => t.cursor },
    {
      onWelcome: () => (t.connected = true),
      onPage: (page) => {
        for (const e of page.events) {
          if (e.seq <= t.cursor) t.duplicates++
          else if (e.seq > t.cursor + 1) t.gaps++
          t.cursor = Math.max(t.cursor, e.seq)
        }
      },
      onDisconnect: () => (t.connected = false),
      onRefused: (e) => {
        throw e
      },
    },
  )
  connections.push(t.connection)
  return t
}
