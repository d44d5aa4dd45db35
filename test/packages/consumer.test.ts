/**
 * The packages as a user gets them: `npm pack` of every package, a fresh project in a temporary
 * folder outside the repository, README's commands run in it (installing only the tarballs and
 * registry packages), and README's files written into it (test/packages/consumer/ holds them; the
 * first test checks README shows them verbatim). Then:
 * 1. a plain Node 20 script (compiled by tsc with moduleResolution node16, no tsx) creates stores,
 *    commits, queries and syncs through a server started by the installed `cairn-sync` command;
 * 2. the app type-checks with moduleResolution bundler (and the script with node16, in 1);
 * 3. the Vite + React app (@cairn/react, @cairn/adapter-web: a worker, OPFS) built by `vite build`
 *    and served by `vite preview` (and under the dev server) renders rows in headless Chromium
 *    (persistence across reloads is the web adapter's own tests' job).
 * What differs from a user's terminal: `@cairn/x` in install commands becomes the tarball's path,
 * servers get a free port (`--port N --strictPort`, 8787 replaced), npm skips audit/fund, and
 * better-sqlite3 gets this repository's compiled binary as a local prebuild when the versions match
 * (otherwise it compiles, as for a user without network access to its prebuilt binaries).
 *
 * Needs `npm run build` first (npm test does it). Takes about a minute; CAIRN_SKIP_CONSUMER_TEST=1
 * skips it outside CI. With CI=true it always runs and a missing Chromium fails it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join, relative } from 'node:path'
import { promisify, stripVTControlCharacters } from 'node:util'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, it, type ExpectStatic } from 'vitest'
import { packAll, publishedWorkspaces, root, type Packed } from '../../tooling/pack.ts'

const CI = process.env.CI === 'true'
const skip = !CI && process.env.CAIRN_SKIP_CONSUMER_TEST === '1'
const CHROMIUM = '/usr/bin/chromium'
const hasChromium = existsSync(CHROMIUM)
if (skip) console.warn('consumer.test.ts: skipped (CAIRN_SKIP_CONSUMER_TEST=1)')
else if (!hasChromium && !CI) console.warn(`consumer.test.ts: no ${CHROMIUM}, the browser checks are skipped (apt-get install -y chromium)`)

const fixture = join(import.meta.dirname, 'consumer')
const readme = readFileSync(join(root, 'README.md'), 'utf8')

/** README's commands, in the order a user runs them. */
const commands = {
  init: 'npm init -y && npm pkg set type=module',
  install: 'npm install @cairn/core @cairn/react @cairn/adapter-web @cairn/sync react react-dom zod ws',
  installDev: 'npm install -D vite @vitejs/plugin-react typescript @types/react @types/react-dom @types/node',
  checkApp: 'npx tsc -p tsconfig.json',
  dev: 'npx vite',
  build: 'npx vite build',
  preview: 'npx vite preview',
  server: 'CAIRN_SYNC_TOKEN=dev-secret npx cairn-sync --data-dir ./sync-data --port 8787',
  compileScript: 'npx tsc -p tsconfig.node.json',
  runScript: 'CAIRN_SYNC_TOKEN=dev-secret node build/scripts/sync.js ws://localhost:8787',
} as const

/** README's files, as paths in the app. */
function fixtureFiles(dir = fixture): string[] {
  return readdirSync(dir).flatMap((f) =>
    statSync(join(dir, f)).isDirectory() ? fixtureFiles(join(dir, f)) : [relative(fixture, join(dir, f))],
  )
}

let work = ''
let app = ''
let packed: Packed[] = []
let env: NodeJS.ProcessEnv = {}
let browser: Browser | undefined
const servers: ChildProcess[] = []

/** A command in the app folder, through sh like a terminal; rejects with its output on failure. */
async function sh(command: string, timeout = 180_000): Promise<string> {
  const { stdout, stderr } = await promisify(execFile)('sh', ['-c', command], { cwd: app, env, timeout, maxBuffer: 1 << 26 }).catch(
    (e: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`\`${command}\` failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`)
    },
  )
  return stdout + stderr
}

/** A long-running command (its own process group, stopped in afterAll); resolves once `ready` shows in its output. */
function start(command: string, ready: RegExp): Promise<{ output: () => string }> {
  const child = spawn('sh', ['-c', command], { cwd: app, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  servers.push(child)
  let output = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`\`${command}\` not ready after 60 s:\n${output}`)), 60_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      // colours (FORCE_COLOR under CI) split words like `Local:` with escape codes
      if (ready.test(stripVTControlCharacters(output))) {
        clearTimeout(timer)
        resolve({ output: () => output })
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`\`${command}\` exited with ${code}:\n${output}`))
    })
  })
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** The environment of a user's terminal: none of this repository's npm/Vitest variables or bins. */
function userEnv(prebuilds: string): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(npm_|VITEST|NODE_OPTIONS$|NODE_ENV$|TEST$|INIT_CWD$)/i.test(k)),
  )
  const path = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((p) => !p.startsWith(root))
    .join(delimiter)
  return {
    ...clean,
    PATH: path,
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    npm_config_prefer_offline: 'true',
    npm_config_better_sqlite3_local_prebuilds: prebuilds,
  }
}

/** This repository's better-sqlite3 binary as the prebuild tarball prebuild-install looks for. */
async function seedPrebuild(dir: string): Promise<void> {
  const bs = join(root, 'node_modules', 'better-sqlite3')
  if (!existsSync(join(bs, 'build', 'Release', 'better_sqlite3.node'))) return
  const { version } = JSON.parse(readFileSync(join(bs, 'package.json'), 'utf8')) as { version: string }
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`
  await promisify(execFile)('tar', ['-czf', join(dir, name), 'build/Release/better_sqlite3.node'], { cwd: bs })
}

function asInstalled(command: string): string {
  return command.replace(/@cairn\/[\w-]+/g, (name) => {
    const p = packed.find((x) => x.name === name)
    if (!p) throw new Error(`README installs ${name}, which no workspace packs`)
    return p.tarball
  })
}

// the checks run concurrently (each waits mostly on its child processes)
describe.skipIf(skip)('the packages installed from their tarballs into a fresh app, as README shows', { concurrent: true }, () => {
  beforeAll(async () => {
    const unbuilt = publishedWorkspaces().filter((w) => !existsSync(join(root, w, 'dist')))
    if (unbuilt.length > 0) throw new Error(`no dist/ in ${unbuilt.join(', ')}: run \`npm run build\` first`)
    work = mkdtempSync(join(tmpdir(), 'cairn-consumer-'))
    app = join(work, 'my-app')
    for (const d of ['tarballs', 'prebuilds', 'my-app']) mkdirSync(join(work, d))
    packed = packAll(join(work, 'tarballs'))
    await seedPrebuild(join(work, 'prebuilds'))
    env = userEnv(join(work, 'prebuilds'))
    cpSync(fixture, app, { recursive: true })
    await sh(commands.init)
    await sh(asInstalled(commands.install), 300_000)
    await sh(commands.installDev, 300_000)
    if (hasChromium) {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--no-first-run',
          '--disable-sync',
        ],
      })
    }
  }, 600_000)

  afterAll(async () => {
    await browser?.close()
    for (const s of servers) if (s.exitCode === null && s.pid !== undefined) process.kill(-s.pid, 'SIGTERM')
    if (work !== '') rmSync(work, { recursive: true, force: true })
  }, 60_000)

  it('README shows the commands and files this test uses, verbatim', ({ expect }) => {
    for (const c of Object.values(commands)) expect(readme, c).toContain(c)
    for (const f of fixtureFiles()) expect(readme, f).toContain(readFileSync(join(fixture, f), 'utf8').trim())
  })

  it('a plain Node script (tsc, moduleResolution node16) syncs two stores through the installed cairn-sync', async ({ expect }) => {
    const port = await freePort()
    await start(commands.server.replace('8787', String(port)), /listening on ws:\/\//)
    await sh(commands.compileScript)
    const output = await sh(commands.runScript.replace('8787', String(port)), 60_000)
    expect(output).toContain("laptop: [ 'Buy milk' ]")
    expect(output).toContain("phone: [ 'Buy milk' ]")
    expect(output).toMatch(/serverHead: 'e1'/)
    // no TypeScript runtime anywhere: the command is the package's built JS
    expect(readFileSync(join(app, 'node_modules', '@cairn', 'sync', 'dist', 'bin.js'), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/)
    expect(existsSync(join(app, 'node_modules', 'tsx'))).toBe(false)
  }, 180_000)

  it('the app type-checks against the installed types (moduleResolution bundler)', async () => {
    await sh(commands.checkApp)
  }, 180_000)

  it.skipIf(!hasChromium && !CI)(
    'vite build, served by vite preview, renders rows in headless Chromium',
    async ({ expect }) => {
      await sh(commands.build)
      const port = await freePort()
      await start(`${commands.preview} --port ${port} --strictPort`, /Local:/)
      await expectRows(`http://localhost:${port}/`, expect)
    },
    180_000,
  )

  it.skipIf(!hasChromium && !CI)(
    'the dev server (npx vite) renders rows in headless Chromium',
    async ({ expect }) => {
      const port = await freePort()
      await start(`${commands.dev} --port ${port} --strictPort`, /Local:/)
      await expectRows(`http://localhost:${port}/`, expect)
    },
    180_000,
  )
})

/** Adds two todos through the page's input and expects them as rows, with no page errors. */
async function expectRows(url: string, expect: ExpectStatic): Promise<void> {
  if (!browser) throw new Error(`no Chromium at ${CHROMIUM} (CI=true): apt-get install -y chromium`)
  const page = await browser.newPage()
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(String(e)))
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text())
  })
  try {
    await page.goto(url)
    const input = page.getByPlaceholder('What needs to be done?')
    for (const text of ['Walk the dog', 'Buy milk']) {
      await input.fill(text)
      await input.press('Enter')
    }
    await page.waitForFunction(() => document.querySelectorAll('li').length === 2, null, { timeout: 30_000 })
    expect(await page.locator('li').allTextContents()).toEqual(['Buy milk', 'Walk the dog'])
    expect(errors).toEqual([])
  } finally {
    await page.close()
  }
}
