// `npm start`: builds the playground and serves it together with a sync server (WebSocket and
// long-poll under /sync, events kept in SQLite under .cairn/) on one localhost port.
import { parseArgs } from 'node:util'
import { startPlayground } from './start.ts'

const USAGE = `Usage: npm start -- [--port 8787] [--host 127.0.0.1] [--data .cairn] [--build | --no-build]
  --port      port to listen on (0 picks a free one)
  --host      interface to listen on (default 127.0.0.1, this machine only)
  --data      folder for the sync server's SQLite file (default .cairn)
  --build     build the playground even if playground/dist is newer than its sources
  --no-build  serve the last build of playground/dist as it is
  (by default it builds when the sources changed since the last build)`

let values
try {
  values = parseArgs({
    options: {
      port: { type: 'string', default: process.env.PORT ?? '8787' },
      host: { type: 'string', default: '127.0.0.1' },
      data: { type: 'string', default: '.cairn' },
      build: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values
} catch (e) {
  console.error(`${(e as Error).message}\n\n${USAGE}`)
  process.exit(2)
}
if (values.help) {
  console.log(USAGE)
  process.exit(0)
}
const port = Number(values.port)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a number from 0 to 65535, not "${values.port}".\n\n${USAGE}`)
  process.exit(2)
}

try {
  const playground = await startPlayground({ port, host: values.host, dataDir: values.data, build: values.build ? 'always' : values['no-build'] ? 'never' : 'if-changed', log: (m) => console.log(m) })
  const stop = () => {
    playground.close().then(
      () => process.exit(0),
      (e) => {
        console.error(e)
        process.exit(1)
      },
    )
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
} catch (e) {
  if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    console.error(
      `Port ${port} on ${values.host} is already in use (another \`npm start\`?).\n` +
        `Stop that process, or pick another port: npm start -- --port ${port + 1}   (--port 0 picks a free one)`,
    )
    process.exit(1)
  }
  throw e
}
