// The playground end to end, in real Chromium, against the server `npm start` runs (one build,
// one server, one browser for the whole file). Screenshots of the main views go to
// test-results/playground/ for a reviewer.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { chromium, type Browser, type Locator, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const SHOTS = join(REPO, 'test-results/playground')
const hasChromium = existsSync(CHROMIUM)
if (!hasChromium) {
  if (process.env.CI) throw new Error(`Chromium is missing at ${CHROMIUM}: CI must install it (apt-get install -y chromium, see .ci/run).`)
  console.warn(`playground tests skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH).`)
}

/**
 * Gzipped JavaScript (sqlite's wasm aside): the entry chunk the page needs before it is usable,
 * the clients' worker chunk (each client's leader runs in a dedicated Worker on OPFS through
 * @cairn/adapter-web; the page waits for them before it is usable, and the browser fetches the chunk
 * once for all clients when its cache has it), what a first visit loads (entry, the worker chunk,
 * and the editor, loaded after the first render; each URL once),
 * and everything the build emits for the page (plus the transpiler, loaded when an edited schema
 * runs). The worker chunk carries its own copy of core, zod and sqlite-wasm's JavaScript, which is
 * why it is big. sqlite-wasm's `sqlite3-worker1` and `sqlite3-opfs-async-proxy` files are emitted
 * too but never loaded (the leader uses the opfs-sahpool VFS, which needs neither): the test checks
 * that no request asks for them.
 */
export const BUDGET = { entryJsGzipBytes: 360 * 1024, workerJsGzipBytes: 260 * 1024, firstVisitJsGzipBytes: 720 * 1024, allJsGzipBytes: 780 * 1024, loadToReadyMs: 1500 }

/**
 * Timing limits (load time, long tasks) are checked only while the machine is not saturated: with
 * several runnable processes per core, the browser waits for the CPU and a 10 ms task reads as
 * 80 ms. The byte budgets and everything functional are always checked; the timings are always
 * printed.
 */
function machineIsQuiet(what: string): boolean {
  const perCore = loadavg()[0]! / availableParallelism()
  if (perCore <= 3) return true
  console.warn(`playground: ${what} not checked: load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores (measure on a quiet machine)`)
  return false
}

let server: ChildProcess | undefined
let browser: Browser | undefined
let page: Page
let url = ''
let dataDir = ''
const timings: Record<string, number> = {}

async function startServer(): Promise<string> {
  const started = performance.now()
  const child = spawn(process.execPath, ['--conditions=@cairn/source', '--import', 'tsx', 'playground/server/main.ts', '--port', '0', '--data', dataDir], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  server = child
  let output = ''
  const found = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start printed no URL within 90 s:\n${output}`)), 90_000)
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const m = /Cairn playground: (http:\/\/\S+)/.exec(output)
      if (m !== null) {
        clearTimeout(timer)
        resolveUrl(m[1]!)
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.once('exit', (code) => reject(new Error(`the playground server exited (${code}):\n${output}`)))
  })
  timings.startToUrlMs = performance.now() - started
  return found
}

const launch = () =>
  chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  })

/** Uncaught errors in the pages: each test must leave none (one blanked the whole app once). */
const pageErrors: string[] = []

async function openPage(): Promise<Page> {
  const context = await browser!.newContext({ viewport: { width: 1440, height: 900 } })
  const p = await context.newPage()
  p.on('pageerror', (e) => {
    console.error(`page error: ${e.message}`)
    pageErrors.push(e.message)
  })
  return p
}

async function ready(p: Page): Promise<number> {
  await p.waitForSelector('body[data-ready=true]', { timeout: 20_000 })
  return p.evaluate(() => performance.getEntriesByName('cairn-playground-ready')[0]!.startTime)
}

const shot = (p: Page, name: string) => p.screenshot({ path: join(SHOTS, `${name}.png`) })
const tab = (p: Page, name: string) => p.getByTestId(`tab-${name}`).click()
/** The panel of a view: views stay mounted once shown, so test ids repeat across hidden panels. */
const view = (p: Page, name: string) => p.locator(`[role=tabpanel][aria-label="${name}"]`)

async function commitTodo(scope: Page | Locator, text: string): Promise<void> {
  await scope.getByTestId('field-text').fill(text)
  await scope.getByTestId('commit').click()
}

/** The rows of a client card's eventlog, as "seq name" in log order. */
async function logOf(card: Locator): Promise<string[]> {
  return card.getByTestId('event-row').evaluateAll((rows) => rows.map((r) => `${(r as HTMLElement).dataset.seq} ${(r as HTMLElement).dataset.name} ${(r as HTMLElement).dataset.status}`))
}

describe('npm start', () => {
  it('says so when the port is taken, and how to pick another, before building anything', async () => {
    const blocker = createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()))
    const port = (blocker.address() as { port: number }).port
    const data = mkdtempSync(join(tmpdir(), 'cairn-playground-port-'))
    try {
      const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((r) => {
        const child = execFile(process.execPath, ['--conditions=@cairn/source', '--import', 'tsx', 'playground/server/main.ts', '--port', String(port), '--data', data], { cwd: REPO }, (error, _out, err) =>
          r({ code: error === null ? 0 : (child.exitCode ?? 1), stderr: err }),
        )
      })
      expect(code).toBe(1)
      expect(stderr).toContain(`Port ${port} on 127.0.0.1 is already in use`)
      expect(stderr).toContain(`npm start -- --port ${port + 1}`)
    } finally {
      blocker.close()
      rmSync(data, { recursive: true, force: true })
    }
  })
})

describe.runIf(hasChromium)('playground (Chromium)', () => {
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'cairn-playground-'))
    mkdirSync(SHOTS, { recursive: true })
    const startedAt = performance.now()
    ;[url, browser] = await Promise.all([startServer(), launch()])
    page = await openPage()
    await page.goto(url)
    await ready(page)
    timings.startToUsableMs = performance.now() - startedAt
  }, 120_000)

  afterEach(() => {
    const errors = pageErrors.splice(0)
    expect(errors, 'uncaught errors in the page').toEqual([])
  })

  afterAll(async () => {
    await browser?.close()
    if (server !== undefined && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r))
      server.kill('SIGINT')
      await exited
    }
    if (dataDir !== '') rmSync(dataDir, { recursive: true, force: true })
    console.log(`playground timings: ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])))}`)
  })

  it('loads to a usable page within the budget, shipping JavaScript within the budget', async () => {
    // fresh contexts: nothing cached, as a first visit
    const loads: number[] = []
    let pageJs = 0
    let fetchedJs = 0
    const requested: string[] = []
    for (let i = 0; i < 3; i++) {
      const p = await openPage()
      // the context sees the workers' requests too
      p.context().on('request', (r) => requested.push(r.url()))
      await p.goto(url)
      loads.push(await ready(p))
      // by URL: the clients' workers start together, so the browser may fetch their chunk once per
      // client before its cache has it (the sum of every fetch is reported as firstVisitJsFetchedKiB)
      ;[pageJs, fetchedJs] = await p.evaluate(() => {
        const js = performance.getEntriesByType('resource').filter((r) => r.name.endsWith('.js')) as PerformanceResourceTiming[]
        const byUrl = new Map(js.map((r) => [r.name, r.encodedBodySize]))
        return [[...byUrl.values()].reduce((n, b) => n + b, 0), js.reduce((n, r) => n + r.encodedBodySize, 0)]
      })
      await p.context().close()
    }
    timings.loadToReadyBestMs = Math.min(...loads)
    timings.loadToReadyWorstMs = Math.max(...loads)
    const dist = join(REPO, 'playground/dist')
    const entry = /<script type="module"[^>]*src="\.\/(assets\/[^"]+\.js)"/.exec(readFileSync(join(dist, 'index.html'), 'utf8'))![1]!
    const entryJs = gzipSync(readFileSync(join(dist, entry))).length
    timings.entryJsGzipKiB = entryJs / 1024
    const assets = join(dist, 'assets')
    const workerChunk = readdirSync(assets).find((f) => f.startsWith('client.worker-') && f.endsWith('.js'))!
    expect(requested.some((u) => u.endsWith(workerChunk))).toBe(true)
    expect(requested.filter((u) => /sqlite3-(worker1|opfs-async-proxy)/.test(u))).toEqual([])
    const workerJs = gzipSync(readFileSync(join(assets, workerChunk))).length
    timings.workerJsGzipKiB = workerJs / 1024
    // the page's resource timing lists the workers' script too
    const initialJs = pageJs
    timings.firstVisitJsGzipKiB = initialJs / 1024
    timings.firstVisitJsFetchedKiB = fetchedJs / 1024
    const allJs = readdirSync(assets)
      .filter((f) => f.endsWith('.js') && !f.startsWith('sqlite3-worker1') && !f.startsWith('sqlite3-opfs'))
      .reduce((n, f) => n + gzipSync(readFileSync(join(assets, f))).length, 0)
    timings.allJsGzipKiB = allJs / 1024
    expect(pageJs).toBeGreaterThan(workerJs)
    expect(entryJs).toBeLessThanOrEqual(BUDGET.entryJsGzipBytes)
    expect(workerJs).toBeLessThanOrEqual(BUDGET.workerJsGzipBytes)
    expect(initialJs).toBeLessThanOrEqual(BUDGET.firstVisitJsGzipBytes)
    expect(allJs).toBeLessThanOrEqual(BUDGET.allJsGzipBytes)
    // the best of three: the machine running the suite is busy with other test files meanwhile
    if (machineIsQuiet('load time')) expect(Math.min(...loads)).toBeLessThanOrEqual(BUDGET.loadToReadyMs)
  })

  it('commits through a form built from the event schema; the row and a live query follow', async () => {
    await tab(page, 'Queries')
    await page.getByTestId('query-table').selectOption('todos')
    await page.getByTestId('query-add').click()
    const card = page.getByTestId('query-card').first()
    await expect.poll(() => card.getByTestId('query-runs').textContent()).toBe('1')
    await expect.poll(() => card.getByTestId('query-tables').textContent()).toBe('todos')

    await tab(page, 'Commit')
    await page.getByTestId('event-v1.TodoCreated').click()
    await page.getByTestId('field-priority').selectOption('high')
    await commitTodo(page, 'Buy milk')
    await expect.poll(() => page.getByTestId('commit-result').textContent()).toMatch(/Committed v1\.TodoCreated as e\d+/)
    await shot(page, 'commit')

    await tab(page, 'Tables')
    await expect.poll(() => page.getByTestId('table-count-todos').textContent()).toBe('1')
    await expect.poll(() => page.getByTestId('table-todos').textContent()).toContain('Buy milk')
    await shot(page, 'tables')

    await tab(page, 'Queries')
    await expect.poll(() => card.getByTestId('query-count').textContent()).toBe('1 row')
    expect(await card.getByTestId('query-rows').textContent()).toContain('Buy milk')
    expect(await card.getByTestId('query-runs').textContent()).toBe('2')
    await shot(page, 'queries')
  })

  it('re-runs a query only when a table it reads changes', async () => {
    await page.getByTestId('preset').selectOption('issues')
    await tab(page, 'Commit')
    await page.getByTestId('event-v1.IssueOpened').waitFor()
    await tab(page, 'Queries')
    await page.getByTestId('query-table').selectOption('labels')
    await page.getByTestId('query-add').click()
    const card = page.getByTestId('query-card').first()
    await expect.poll(() => card.getByTestId('query-runs').textContent()).toBe('1')

    await tab(page, 'Commit')
    await page.getByTestId('event-v1.IssueOpened').click()
    await page.getByTestId('field-title').fill('Crash on start')
    await page.getByTestId('commit').click()
    await expect.poll(() => page.getByTestId('commit-result').textContent()).toMatch(/Committed v1\.IssueOpened/)
    await tab(page, 'Queries')
    await page.waitForTimeout(400) // a re-run would show within the 250 ms refresh
    expect(await card.getByTestId('query-runs').textContent()).toBe('1')

    await tab(page, 'Commit')
    await page.getByTestId('event-v1.LabelCreated').click()
    await page.getByTestId('field-name').fill('bug')
    await page.getByTestId('field-color').fill('#d73a4a')
    await page.getByTestId('commit').click()
    await expect.poll(() => page.getByTestId('commit-result').textContent()).toMatch(/Committed v1\.LabelCreated/)
    await tab(page, 'Queries')
    await expect.poll(() => card.getByTestId('query-runs').textContent()).toBe('2')
    expect(await card.getByTestId('query-rows').textContent()).toContain('bug')

    await tab(page, 'Devtools')
    await expect.poll(() => page.getByTestId('graph-node').count()).toBeGreaterThan(1)
    await shot(page, 'devtools')
  })

  it('shows a schema syntax error at its line and invalid args at their field, and keeps working', async () => {
    await tab(page, 'Commit')
    await page.getByTestId('event-v1.LabelCreated').click()
    await page.getByTestId('field-name').fill('Not Valid!')
    await page.getByTestId('commit').click()
    await expect.poll(() => page.getByTestId('error-name').textContent()).toContain('lowercase letters')
    await shot(page, 'invalid-args')

    const editor = page.locator('.cm-content')
    await editor.click()
    await page.keyboard.press('Control+End')
    await page.keyboard.type('\nconst broken = (\n')
    await page.getByTestId('run').click()
    await expect.poll(() => page.getByTestId('schema-error').textContent()).toMatch(/^line \d+: Syntax error/)
    const line = Number(/^line (\d+)/.exec((await page.getByTestId('schema-error').textContent())!)![1])
    expect(line).toBeGreaterThan(60)
    expect(await page.locator('.cm-lint-marker-error').count()).toBeGreaterThan(0)
    await shot(page, 'schema-error')
    // the clients keep running the last good schema
    await page.getByTestId('event-v1.IssueOpened').click()
    expect(await page.getByTestId('field-title').isVisible()).toBe(true)

    // an error thrown while the module runs points at its line too
    await page.getByTestId('preset').selectOption('issues')
    await expect.poll(() => page.getByTestId('schema-error').count()).toBe(0)
    await editor.click()
    await page.keyboard.press('Control+End')
    await page.keyboard.type('\nthrow new Error("boom here")\n')
    await page.keyboard.press('Control+Enter')
    await expect.poll(() => page.getByTestId('schema-error').textContent()).toMatch(/line \d+: boom here/)
  })

  it('syncs two clients: one offline, both commit, reconnect, same rows and the same eventlog order', async () => {
    await page.getByTestId('preset').selectOption('todos')
    await tab(page, 'Clients')
    const a = page.getByTestId('client-A')
    const b = page.getByTestId('client-B')
    await expect.poll(() => b.getByTestId('connected').textContent()).toBe('websocket')
    await b.getByTestId('online-B').uncheck()
    await expect.poll(() => b.getByTestId('connected').textContent()).toBe('disconnected')

    await commitTodo(a, 'Written on A')
    await commitTodo(b, 'Written on B while offline')
    await expect.poll(() => a.getByTestId('pending').textContent()).toBe('0')
    expect(await b.getByTestId('pending').textContent()).toBe('1')
    await shot(page, 'clients-offline')

    await b.getByTestId('online-B').check()
    await expect.poll(() => b.getByTestId('pending').textContent(), { timeout: 10_000 }).toBe('0')
    await expect.poll(async () => (await a.getByTestId('head-leader').textContent()) === (await b.getByTestId('head-leader').textContent())).toBe(true)
    await expect.poll(() => a.getByTestId('table-count-todos').textContent()).toBe('3')
    expect(await b.getByTestId('table-count-todos').textContent()).toBe('3')
    await expect.poll(async () => JSON.stringify(await logOf(a))).toBe(JSON.stringify(await logOf(b)))
    const log = await logOf(b)
    expect(log.map((l) => l.split(' ')[1])).toEqual(['v1.TodoCreated', 'v1.TodoCreated', 'v1.TodoCreated'])
    expect(log.every((l) => l.endsWith('confirmed'))).toBe(true)
    await shot(page, 'clients-converged')
  })

  it("keeps each client's data in its own OPFS file across a reload, offline: events no server has", async () => {
    await tab(page, 'Clients')
    const card = (name: string) => view(page, 'Clients').getByTestId(`client-${name}`)
    for (const name of ['A', 'B']) {
      expect(await card(name).getByTestId('storage').textContent()).toBe('OPFS')
      await card(name).getByTestId(`online-${name}`).uncheck()
      await expect.poll(() => card(name).getByTestId('connected').textContent()).toBe('disconnected')
      await commitTodo(card(name), `Only on ${name}, offline`)
      await expect.poll(() => card(name).getByTestId('pending').textContent()).toBe('1')
    }
    await page.reload()
    await ready(page)
    await tab(page, 'Clients')
    // the switches stay off across the reload: neither client reaches the server, which never saw
    // these two events, so each client's rows come from its own file (its leader worker's OPFS)
    for (const [name, other] of [
      ['A', 'B'],
      ['B', 'A'],
    ] as const) {
      expect(await card(name).getByTestId(`online-${name}`).isChecked()).toBe(false)
      await expect.poll(() => card(name).getByTestId('table-count-todos').textContent(), { timeout: 10_000 }).toBe('4')
      const rows = await card(name).getByTestId('table-todos').textContent()
      expect(rows).toContain(`Only on ${name}, offline`)
      expect(rows).not.toContain(`Only on ${other}, offline`)
      expect(await card(name).getByTestId('pending').textContent()).toBe('1')
      expect(await card(name).getByTestId('connected').textContent()).toBe('disconnected')
    }
    const dirs = await page.evaluate(async () => {
      const names: string[] = []
      for await (const [name] of (await navigator.storage.getDirectory()) as unknown as AsyncIterable<[string, unknown]>) names.push(name)
      return names
    })
    expect(dirs).toEqual(expect.arrayContaining(['.cairn-playground-todos_40_A', '.cairn-playground-todos_40_B']))
    await shot(page, 'clients-reloaded-offline')
    for (const name of ['A', 'B']) await card(name).getByTestId(`online-${name}`).check()
    for (const name of ['A', 'B']) {
      await expect.poll(() => card(name).getByTestId('pending').textContent(), { timeout: 10_000 }).toBe('0')
      await expect.poll(() => card(name).getByTestId('table-count-todos').textContent(), { timeout: 10_000 }).toBe('5')
    }
    await expect.poll(async () => JSON.stringify(await logOf(card('A')))).toBe(JSON.stringify(await logOf(card('B'))))
    await tab(page, 'Eventlog')
    await expect.poll(() => view(page, 'Eventlog').getByTestId('event-row').count()).toBe(5)
    await shot(page, 'eventlog')
  })

  it("resets one client's local data: it starts empty and pulls the store back from the server", async () => {
    await tab(page, 'Clients')
    const a = view(page, 'Clients').getByTestId('client-A')
    const clientId = await a.locator('h3 .mono').textContent()
    await a.getByTestId('reset-A').click()
    await expect.poll(() => view(page, 'Clients').getByTestId('client-A').locator('h3 .mono').textContent(), { timeout: 15_000 }).not.toBe(clientId)
    await expect.poll(() => view(page, 'Clients').getByTestId('client-A').getByTestId('table-count-todos').textContent(), { timeout: 10_000 }).toBe('5')
  })

  it('runs an edited schema in each client\'s worker and rebuilds the persisted state when its tables change', async () => {
    const schemaV = (extra: string) => `import { Events, makeSchema, State } from '@cairn/core'
import { z } from 'zod'
export const events = { noteAdded: Events.synced({ name: 'v1.NoteAdded', schema: z.object({ id: z.string(), text: z.string() }) }) }
const notes = State.SQLite.table({ name: 'notes', columns: { id: State.SQLite.text({ primaryKey: true }), text: State.SQLite.text({ default: '' })${extra === '' ? '' : ', size: State.SQLite.integer({ default: 0 })'} } })
const materializers = State.SQLite.materializers(events, { 'v1.NoteAdded': ({ id, text }) => notes.insert({ id, text${extra} }) })
export const schema = makeSchema({ events, state: State.SQLite.makeState({ tables: { notes }, materializers }) })
`
    const type = async (code: string) => {
      await page.locator('.cm-content').click()
      await page.keyboard.press('Control+A')
      await page.keyboard.press('Delete')
      await page.keyboard.insertText(code)
    }
    await page.getByTestId('store-id').fill('notes-test')
    await type(schemaV(''))
    await page.getByTestId('run').click()
    await tab(page, 'Commit')
    const commit = view(page, 'Commit')
    await commit.getByTestId('event-v1.NoteAdded').waitFor()
    await commit.getByTestId('field-text').fill('hello')
    await commit.getByTestId('commit').click()
    await expect.poll(() => commit.getByTestId('commit-result').textContent()).toMatch(/Committed v1\.NoteAdded/)
    await tab(page, 'Clients')
    const b = view(page, 'Clients').getByTestId('client-B')
    await expect.poll(() => b.getByTestId('table-count-notes').textContent(), { timeout: 10_000 }).toBe('1')
    expect(await b.getByTestId('storage').textContent()).toBe('OPFS')

    // a new column: each client's leader rebuilds its file's state from its log
    await type(schemaV(', size: text.length'))
    await page.keyboard.press('Control+Enter')
    await expect.poll(() => b.getByTestId('table-notes').textContent(), { timeout: 15_000 }).toMatch(/hello\s*5/)
    expect(await view(page, 'Clients').getByTestId('client-A').getByTestId('table-notes').textContent()).toMatch(/hello\s*5/)
    await page.reload()
    await ready(page)
    await tab(page, 'Clients')
    await expect.poll(() => view(page, 'Clients').getByTestId('client-B').getByTestId('table-notes').textContent(), { timeout: 10_000 }).toMatch(/hello\s*5/)
    // back to the todos store for the tests that follow
    await page.getByTestId('preset').selectOption('todos')
    await expect.poll(() => view(page, 'Clients').getByTestId('client-B').getByTestId('table-count-todos').textContent(), { timeout: 10_000 }).toBe('5')
  })

  it('keeps the clients in memory, saying so, where the browser has no OPFS', async () => {
    const other = await openPage()
    await other.context().addInitScript(() => {
      delete (StorageManager.prototype as { getDirectory?: unknown }).getDirectory
    })
    await other.goto(url)
    await ready(other)
    await tab(other, 'Clients')
    const a = view(other, 'Clients').getByTestId('client-A')
    expect(await a.getByTestId('storage').textContent()).toBe('memory')
    expect(await a.getByTestId('storage-note').textContent()).toMatch(/In memory \(no origin private file system.*a reload starts this client empty/)
    await expect.poll(() => a.getByTestId('connected').textContent(), { timeout: 10_000 }).toBe('websocket')
    await other.context().close()
  })

  it('opens a shared link without running it until Run is pressed', async () => {
    await page.getByTestId('share').click()
    const link = await page.getByTestId('share-url').inputValue()
    expect(link).toMatch(/#schema=/)
    const other = await openPage()
    await other.goto(link)
    await other.getByTestId('shared-banner').waitFor()
    expect(await other.locator('body[data-ready=true]').count()).toBe(0)
    await other.getByTestId('run').click()
    await ready(other)
    await other.context().close()
  })

  it('scrolls a 100,000-row table without long tasks over 50 ms', async () => {
    // one client: seeding materializes 100,000 rows in each client's session and leader
    await tab(page, 'Clients')
    await view(page, 'Clients').getByRole('button', { name: '− client' }).click()
    await expect.poll(() => page.locator('.client-card').count()).toBe(1)
    const before = Number(await page.getByTestId('client-A').getByTestId('table-count-todos').textContent())
    await tab(page, 'Commit')
    const commit = view(page, 'Commit')
    await commit.getByTestId('event-v1.TodosSeeded').click()
    await commit.getByTestId('field-count').fill('100000')
    await commit.getByTestId('commit').click()
    await tab(page, 'Tables')
    await expect.poll(() => view(page, 'Tables').getByTestId('table-count-todos').textContent(), { timeout: 60_000 }).toBe(String(before + 100_000))
    // confirmed and idle before the measurement starts
    await expect.poll(() => page.getByTestId('client-A').getByTestId('pending').textContent(), { timeout: 30_000 }).toBe('0')
    const grid = view(page, 'Tables').getByTestId('table-scroll-todos')
    await grid.waitFor()
    // jump to 11 places across the table (each lands on rows not read yet) and scroll a wheel-like
    // 120 px a frame at each; a run that shares the CPU with other test files may see a long task
    // that is not ours, so the best of up to three runs counts
    const scroll = () =>
      grid.evaluate(async (el) => {
        const longTasks: number[] = []
        const observer = new PerformanceObserver((list) => {
          for (const e of list.getEntries()) longTasks.push(e.duration)
        })
        observer.observe({ type: 'longtask', buffered: false })
        const frame = () => new Promise((r) => requestAnimationFrame(r))
        const frames: number[] = []
        let last = performance.now()
        for (let place = 0; place <= 10; place++) {
          el.scrollTop = ((el.scrollHeight - el.clientHeight) * place) / 10
          for (let i = 0; i < 30; i++) {
            await frame()
            const now = performance.now()
            frames.push(now - last)
            last = now
            el.scrollTop += 120
          }
        }
        await new Promise((r) => setTimeout(r, 100))
        observer.disconnect()
        frames.sort((x, y) => x - y)
        return { longTasks, frames: frames.length, p95: frames[Math.floor(frames.length * 0.95)]!, text: el.textContent ?? '' }
      })
    let result = await scroll()
    for (let attempt = 1; attempt < 3 && result.longTasks.some((d) => d > 50); attempt++) result = await scroll()
    timings.scrollFrames = result.frames
    timings.scrollFrameP95Ms = result.p95
    timings.scrollLongestTaskMs = Math.max(0, ...result.longTasks)
    expect(result.frames).toBe(330)
    expect(result.text).toContain('Seeded todo #')
    timings.scrollLongTasksOver50 = result.longTasks.filter((d) => d > 50).length
    if (machineIsQuiet('long tasks while scrolling')) expect(result.longTasks.filter((d) => d > 50)).toEqual([])
    await shot(page, 'tables-100k')
  }, 120_000)
})
