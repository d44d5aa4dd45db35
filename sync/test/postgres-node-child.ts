// A sync server node in its own process (the kill -9 test): PostgreSQL storage on the schema in
// argv[2], port argv[3] (0: any), connections named argv[4]. Prints "port N" once it listens.
import { createSyncServer } from '../src/server/create-server.ts'
import { postgresStorage } from '../src/storage/postgres.ts'
import { PG_URL } from './postgres-url.ts'

const [schema, port, name] = process.argv.slice(2)
const server = await createSyncServer({
  port: Number(port),
  storage: await postgresStorage({
    connectionString: PG_URL,
    schema: schema!,
    applicationName: name!,
    log: (m) => process.stderr.write(`${m}\n`),
  }),
  authorize: () => ({ principal: 'tester' }),
  limits: { pushesPerSecond: 100_000 },
})
process.stdout.write(`port ${server.port}\n`)
