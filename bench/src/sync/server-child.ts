// The sync server of a sync workload, in its own process (the clients' process must not steal its
// event loop). Prints nothing; tells the parent its port, stops on 'stop'.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSyncServer, sqliteStorage } from '../../../sync/src/server/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-sync-'))
const server = await createSyncServer({
  port: 0,
  storage: sqliteStorage(join(dir, 'sync.db')),
  authorize: () => ({ principal: 'bench' }),
  limits: { maxConnections: 10_000, maxConnectionsPerAddress: 10_000, pushesPerSecond: 1_000_000, maxEventsPerPush: 100 },
})
process.send!({ port: server.port })
process.on('message', async (m) => {
  if (m === 'cpu') process.send!({ cpu: process.cpuUsage() })
  if (m === 'stop') {
    await server.close()
    rmSync(dir, { recursive: true, force: true })
    process.exit(0)
  }
})
