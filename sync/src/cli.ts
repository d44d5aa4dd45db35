import { createHash, timingSafeEqual } from 'node:crypto'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { createSyncServer } from './server/create-server.ts'
import { postgresStorage } from './storage/postgres.ts'
import { sqliteStorage } from './storage/sqlite.ts'

const USAGE = `Usage: cairn-sync (--data-dir <dir> | --postgres <url>) [--port 8787] [--host 127.0.0.1] [--base-path /sync] [--allow-anyone]
                  [--allowed-origin <origin>]... [--trust-proxy <address>]...

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
  --allow-anyone        accept every client without a token (development only); web pages
                        only from localhost unless --allowed-origin says otherwise
  --allowed-origin <o>  a web page origin that may use the server, e.g. https://app.example.com
                        (repeatable; '*' for any)
  --trust-proxy <addr>  a reverse proxy whose X-Forwarded-For is believed ('loopback' for
                        127.0.0.1 and ::1; repeatable)
  --help                this text
`

/** Pages served from this machine: http(s)://localhost, 127.0.0.1 or [::1], any port. */
export const LOCAL_ORIGIN = /^https?:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/

/**
 * Compares tokens in time independent of where they differ (and of their lengths: both are
 * hashed first), so the shared secret cannot be guessed byte by byte from response times.
 */
export function tokensEqual(given: string, secret: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(digest(given), digest(secret))
}

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
        'allowed-origin': { type: 'string', multiple: true },
        'trust-proxy': { type: 'string', multiple: true },
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
  const origins = values['allowed-origin']
  const server = await createSyncServer({
    port,
    host: values.host,
    basePath: values['base-path'],
    storage,
    // without a token any web page the user opens could write: only local pages, unless told otherwise
    ...(origins !== undefined
      ? { allowedOrigins: origins.includes('*') ? '*' : origins }
      : values['allow-anyone']
        ? { allowedOrigins: [LOCAL_ORIGIN] }
        : {}),
    ...(values['trust-proxy'] === undefined ? {} : { trustProxy: values['trust-proxy'] }),
    authorize: ({ token }) => {
      if (values['allow-anyone']) return { principal: 'anyone' }
      return token !== undefined && tokensEqual(token, secret!)
        ? { principal: 'token' }
        : { refuse: 'Unauthorized', message: 'Wrong or missing token (CAIRN_SYNC_TOKEN).' }
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
