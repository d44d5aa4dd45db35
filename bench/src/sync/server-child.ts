// The sync server of a sync workload, in its own process (the clients' process must not steal its
// event loop). Prints nothing; tells the parent its port, stops on 'stop'. SYNC_PG_SCHEMA set: the
// storage is PostgreSQL (SYNC_PG_URL) in that schema, else SQLite in a temp dir.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSyncServer, postgresStorage, sqliteStorage } from '../../../sync/src/server/index.ts'

const pgSchema = process.env.SYNC_PG_SCHEMA
const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-sync-'))
const server = await createSyncServer({
  port: 0,
  storage:
    pgSchema === undefined
      ? sqliteStorage(join(dir, 'sync.db'))
      : await postgresStorage({ connectionString: process.env.SYNC_PG_URL, schema: pgSchema, applicationName: 'cairn-bench' }),
  authorize: () => ({ principal: 'bench' }),
  limits: { maxConnections: 10_000, maxConnectionsPerAddress: 10_000, pushesPerSecond: 1_000_000, maxEventsPerPush: 100 },
})
process.send!({ port: server.port })
process.on('message', async (m) => {
  if (m === 'cpu') process.send!({ cpu: process.cpuUsage() })
  if (m === 'rss') process.send!({ rss: process.memoryUsage().rss })
  if (m === 'stop') {
    await server.close()
    rmSync(dir, { recursive: true, force: true })
    process.exit(0)
  }
})
