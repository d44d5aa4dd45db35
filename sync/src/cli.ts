import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { createSyncServer } from './server/create-server.ts'
import { postgresStorage } from './storage/postgres.ts'
import { sqliteStorage } from './storage/sqlite.ts'

const USAGE = `Usage: cairn-sync (--data-dir <dir> | --postgres <url>) [--port 8787] [--host 127.0.0.1] [--base-path /sync] [--allow-anyone]

Starts a Cairn sync server (WebSocket and HTTP long-poll on one port) storing every store in
<dir>/sync.db (SQLite, WAL), or in PostgreSQL with --postgres (any number of nodes may share it).

Auth: clients must present the token in the environment variable CAIRN_SYNC_TOKEN (one shared
secret; it may access every store), or pass --allow-anyone for a local development server.

Options:
  --data-dir <dir>      where sync.db lives (created if missing)
  --postgres <url>      store in PostgreSQL instead (postgres://user:pass@host:5432/db); tables are
                        created or migrated on start; run as many nodes on it as you like
  --port <n>            port to listen on; 0 picks a free one (default 8787)
  --host <addr>         address to listen on (default 127.0.0.1)
  --base-path <path>    prefix of the routes and the WebSocket endpoint (default none)
  --allow-anyone        accept every client without a token (development only)
  --help                this text
`

/**
 * The \`cairn-sync\` command. Resolves with the exit code once the server stopped (SIGINT/SIGTERM).
 *
 * @example
 * CAIRN_SYNC_TOKEN=s3cret npx cairn-sync --data-dir ./sync-data --port 8787
 */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let values
  try {
    ;({ values } = parseArgs({
      args: [...argv],
      options: {
        'data-dir': { type: 'string' },
        postgres: { type: 'string' },
        port: { type: 'string', default: '8787' },
        host: { type: 'string', default: '127.0.0.1' },
        'base-path': { type: 'string', default: '' },
        'allow-anyone': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }))
  } catch (e) {
    process.stderr.write(`cairn-sync: ${(e as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  const dataDir = values['data-dir']
  const postgres = values.postgres
  const port = Number(values.port)
  if ((dataDir === undefined) === (postgres === undefined) || !Number.isInteger(port) || port < 0 || port > 65535) {
    const problem =
      dataDir === undefined && postgres === undefined
        ? '--data-dir is required (or --postgres <url>)'
        : dataDir !== undefined && postgres !== undefined
          ? 'give --data-dir or --postgres, not both'
          : `--port must be 0..65535, not "${values.port}"`
    process.stderr.write(`cairn-sync: ${problem}\n\n${USAGE}`)
    return 2
  }
  const secret = env.CAIRN_SYNC_TOKEN
  if ((secret === undefined || secret === '') && !values['allow-anyone']) {
    process.stderr.write('cairn-sync: set CAIRN_SYNC_TOKEN to the token clients must present, or pass --allow-anyone for development.\n')
    return 2
  }
  const path = dataDir === undefined ? undefined : join(resolve(dataDir), 'sync.db')
  let storage
  try {
    storage = path === undefined ? await postgresStorage({ connectionString: postgres }) : sqliteStorage(path)
  } catch (e) {
    process.stderr.write(`cairn-sync: ${(e as Error).message}\n`)
    return 1
  }
  const server = await createSyncServer({
    port,
    host: values.host,
    basePath: values['base-path'],
    storage,
    authorize: ({ token }) => {
      if (values['allow-anyone']) return { principal: 'anyone' }
      return token === secret ? { principal: 'token' } : { refuse: 'Unauthorized', message: 'Wrong or missing token (CAIRN_SYNC_TOKEN).' }
    },
  })
  process.stdout.write(
    `cairn-sync listening on ${server.wsUrl} (WebSocket) and ${server.url} (HTTP long-poll), data in ${path ?? 'PostgreSQL'}\n`,
  )
  await new Promise<void>((done) => {
    const stop = () => done()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  await server.close()
  process.stdout.write('cairn-sync stopped\n')
  return 0
}
