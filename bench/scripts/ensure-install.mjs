// Installs bench's own dependencies on first use (bench is not a workspace of the root).
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const required = ['tsx', '@livestore/livestore', '@livestore/adapter-node', '@sqlite.org/sqlite-wasm', 'zod']
const missing = required.filter((p) => !existsSync(path.join(benchDir, 'node_modules', p, 'package.json')))
if (missing.length > 0) {
  process.stderr.write(`bench: installing its dependencies (missing: ${missing.join(', ')})\n`)
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  // npm's own output goes to stderr so stdout stays the report
  const r = spawnSync(npm, ['install', '--no-audit', '--no-fund'], { cwd: benchDir, stdio: ['ignore', 2, 2] })
  if (r.status !== 0) {
    process.stderr.write(`bench: npm install failed (${r.error?.message ?? `exit ${r.status}`})\n`)
    process.exit(1)
  }
}
