// Part 3: @cairn/adapter-web in Chromium, side by side with the in-memory adapter (same page), the
// floor (raw sqlite-wasm on opfs-sahpool in a Worker running the same statements) and LiveStore's
// @livestore/adapter-web (its own page, built separately, on its own origin).
// Run: npm run bench:web [-- --quick] [-- --only=reload,commit,persisted,crosstab] [-- --systems=cairn,raw,livestore]
// (bench/; needs /usr/bin/chromium or CHROMIUM_PATH)
import { readFile, mkdir, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { cpus, loadavg } from 'node:os'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Page } from 'playwright-core'
import type { Bench } from './app/main.ts'

const quick = process.argv.includes('--quick')
const option = (name: string) =>
  process.argv
    .find((a) => a.startsWith(`--${name}=`))
    ?.slice(name.length + 3)
    .split(',')
// --only=reload,commit,persisted,crosstab runs just those rows (persisted includes the throughput row)
const only = option('only')
const runs = (row: string) => only === undefined || only.includes(row)
const systems = option('systems') ?? ['cairn', 'raw', 'livestore']
const SIZES = quick
  ? {
      reloadEvents: Number(process.env.RELOAD_EVENTS ?? 10_000),
      reloads: 2,
      commits: 300,
      rounds: 2,
      latency: 50,
      throughput: 2_000,
      bigCommit: 10_000,
      crossTab: 50,
    }
  : { reloadEvents: 100_000, reloads: 5, commits: 2_000, rounds: 3, latency: 300, throughput: 10_000, bigCommit: 100_000, crossTab: 300 }
// LiveStore's leader writes far fewer events per second: its reload store is smaller (the row says so)
const LS_RELOAD_EVENTS = Number(process.env.LS_RELOAD_EVENTS ?? Math.min(SIZES.reloadEvents, 10_000))
/** A LiveStore step that takes longer than this fails its cells (the run goes on). */
const LS_STEP_MS = 4 * 60_000
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const APP = fileURLToPath(new URL('./app/', import.meta.url))
const LS_APP = fileURLToPath(new URL('./livestore/', import.meta.url))
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' }

const median = (xs: number[]) => quantile(xs, 0.5)
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!
}
const fmt = (ms: number) => (ms < 1 ? ms.toFixed(3) : ms < 10 ? ms.toFixed(2) : ms.toFixed(1))

function call<K extends keyof Bench>(page: Page, method: K, ...args: Bench[K] extends (...a: infer A) => unknown ? A : never) {
  return page.evaluate(
    ([m, a]) => (globalThis as unknown as { bench: Record<string, (...x: unknown[]) => unknown> }).bench[m as string]!(...(a as unknown[])),
    [method, args] as const,
  ) as Promise<Bench[K] extends (...a: never[]) => infer R ? Awaited<R> : never>
}

/** Serves a built page; each server is its own origin (its own OPFS, locks and workers). */
async function serve(dist: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!
    const file = normalize(join(dist, path === '/' ? 'index.html' : path))
    readFile(file).then(
      (body) => res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end(),
    )
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server }
}

type Row = [label: string, cairn: string, raw: string, livestore: string, target: string]

async function main() {
  const { build } = await import('vite')
  process.stderr.write(
    `building the bench page... (load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')})\n`,
  )
  await build({ configFile: join(APP, 'vite.config.ts'), logLevel: 'error' })
  const app = await serve(join(APP, 'dist'))
  let lsFailure: string | undefined
  let lsApp: { url: string; server: Server } | undefined
  if (systems.includes('livestore')) {
    process.stderr.write('building the LiveStore page...\n')
    try {
      await build({ configFile: join(LS_APP, 'vite.config.ts'), logLevel: 'error' })
      lsApp = await serve(join(LS_APP, 'dist'))
    } catch (e) {
      lsFailure = `failed: the build (${(e as Error).message.split('\n')[0]})`
    }
  } else lsFailure = 'not run'
  const browser = await chromium.launch({
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
  const rows: Row[] = []
  const results: Record<string, unknown> = {
    sizes: { ...SIZES, livestoreReloadEvents: LS_RELOAD_EVENTS },
    machine: { cpus: cpus().length, model: cpus()[0]?.model },
    chromium: browser.version(),
    loadavgStart: loadavg(),
  }
  const opener = (url: string) => async (page: Page) => {
    await page.goto(url)
    await page.waitForFunction(() => 'bench' in globalThis)
    return page
  }
  const open = opener(app.url)
  const has = (system: string) => systems.includes(system)
  try {
    // LiveStore first, in its own context and origin: its figures, or why it has none
    const ls = lsApp === undefined ? undefined : await livestore(opener(lsApp.url), await browser.newContext())
    if (ls !== undefined && 'failure' in ls) lsFailure = ls.failure
    const lsCell = (key: string) => lsFailure ?? (ls !== undefined && 'cells' in ls ? (ls.cells[key] ?? '-') : '-')
    if (ls !== undefined && 'results' in ls) results.livestore = ls.results

    const context = await browser.newContext()
    const page = await open(await context.newPage())
    page.on('console', (m) => {
      if (m.text().startsWith('[trace]')) process.stderr.write(`${m.text()}\n`)
    })
    // 1. reload of a persisted store to the first query result
    if (runs('reload')) {
      process.stderr.write(`reload: filling ${SIZES.reloadEvents} events...\n`)
      const reload: number[] = []
      const reloadNav: number[] = []
      if (has('cairn')) {
        await call(page, 'open', 'web', 'reload')
        await call(page, 'fill', SIZES.reloadEvents, 1000)
        await call(page, 'shutdown')
        for (let i = 0; i < SIZES.reloads; i++) {
          await open(page)
          const r = await call(page, 'open', 'web', 'reload')
          reload.push(r.ms)
          reloadNav.push(r.sinceNavigation)
          await call(page, 'shutdown')
        }
      }
      const rawReload: number[] = []
      if (has('raw')) {
        await open(page)
        await call(page, 'rawOpen', true)
        await call(page, 'rawFill', SIZES.reloadEvents, 1000)
        for (let i = 0; i < SIZES.reloads; i++) {
          await open(page)
          rawReload.push((await call(page, 'rawOpen', false)).ms)
          await call(page, 'rawClose')
        }
      }
      results.reload = { cairn: reload, cairnSinceNavigation: reloadNav, raw: rawReload }
      rows.push([
        `reload of N events -> first query (ms, median of ${SIZES.reloads}); N: cairn and raw ${SIZES.reloadEvents}, livestore ${LS_RELOAD_EVENTS}`,
        reload.length === 0 ? '-' : `${fmt(median(reload))} (${fmt(median(reloadNav))} since navigation)`,
        rawReload.length === 0 ? '-' : fmt(median(rawReload)),
        lsCell('reload'),
        '<= 300',
      ])
    }

    // 2. single-event commit on the main thread: web adapter vs in-memory adapter, alternating
    if (runs('commit') && has('cairn')) {
      const webCommit: number[] = []
      const memCommit: number[] = []
      for (let round = 0; round < SIZES.rounds; round++) {
        for (const [kind, out] of [
          ['web', webCommit],
          ['memory', memCommit],
        ] as const) {
          await open(page)
          await call(page, 'open', kind, `commit${round}`)
          await call(page, 'commitTimes', 200)
          out.push(...(await call(page, 'commitTimes', SIZES.commits)))
          await call(page, 'shutdown')
        }
      }
      results.commit = { web: webCommit, memory: memCommit }
      rows.push([
        'single-event commit(), main thread (ms, median)',
        `${fmt(median(webCommit))} (in-memory adapter ${fmt(median(memCommit))}: ${(median(webCommit) / median(memCommit)).toFixed(2)}x)`,
        '-',
        lsCell('commit'),
        '<= 1.2x in-memory',
      ])
    }

    // 3. commit -> persisted, one event at a time; 4. durable events/s in commits of 100
    if (runs('persisted')) {
      let latency: number[] = []
      let fillMs = NaN
      let bigMs = NaN
      if (has('cairn')) {
        await open(page)
        await call(page, 'open', 'web', 'latency')
        await call(page, 'persistLatency', 20)
        latency = await call(page, 'persistLatency', SIZES.latency)
        fillMs = await call(page, 'fill', SIZES.throughput, 100)
        await call(page, 'shutdown')
        // a bulk import as one atomic commit, into a store of its own
        await open(page)
        await call(page, 'open', 'web', 'big')
        bigMs = await call(page, 'fill', SIZES.bigCommit, SIZES.bigCommit)
        await call(page, 'shutdown')
      }
      // the floor, then again with the adapter's write gathering (batched-writes.ts): what is left is Cairn's own cost
      const floor = async (gathered: boolean) => {
        if (!has('raw')) return { latency: [] as number[], fillMs: NaN }
        await open(page)
        await call(page, 'rawOpen', true, gathered)
        await call(page, 'rawPersistLatency', 20)
        const latency = await call(page, 'rawPersistLatency', SIZES.latency)
        const fillMs = await call(page, 'rawFill', SIZES.throughput, 100)
        await call(page, 'rawClose')
        return { latency, fillMs }
      }
      const { latency: rawLatency, fillMs: rawFillMs } = await floor(false)
      const { latency: gatheredLatency, fillMs: gatheredFillMs } = await floor(true)
      results.persisted = { cairn: latency, raw: rawLatency, rawGathered: gatheredLatency }
      results.throughput = { cairnMs: fillMs, rawMs: rawFillMs, rawGatheredMs: gatheredFillMs, events: SIZES.throughput }
      results.bigCommit = { cairnMs: bigMs, events: SIZES.bigCommit }
      const p = (xs: number[]) => (xs.length === 0 ? '-' : `${fmt(median(xs))} / ${fmt(quantile(xs, 0.99))}`)
      const rate = (ms: number) => (Number.isNaN(ms) ? '-' : String(Math.round(SIZES.throughput / (ms / 1000))))
      const both = (stock: string, gathered: string) => (stock === '-' ? '-' : `${stock} (gathered writes: ${gathered})`)
      rows.push(['commit -> persisted (ms, p50 / p99)', p(latency), both(p(rawLatency), p(gatheredLatency)), lsCell('persisted'), 'p50 <= 5'])
      rows.push(['durable events/s, commits of 100', rate(fillMs), both(rate(rawFillMs), rate(gatheredFillMs)), lsCell('throughput'), '>= 5,000'])
      const bigRate = Number.isNaN(bigMs) ? '-' : String(Math.round(SIZES.bigCommit / (bigMs / 1000)))
      rows.push([`durable events/s, one commit of ${SIZES.bigCommit.toLocaleString('en-US')}`, bigRate, '-', '-', '-'])
    }

    // 5. cross-tab delivery: a commit in one tab seen by the other tab's query
    if (runs('crosstab') && has('cairn')) {
      const a = await open(page)
      await call(a, 'open', 'web', 'tabs')
      const b = await open(await context.newPage())
      await call(b, 'open', 'web', 'tabs')
      const delivery = await crossTab(a, b)
      results.crossTab = delivery
      rows.push([
        'cross-tab delivery, 2 tabs (ms, p50 / p99)',
        `${fmt(median(delivery))} / ${fmt(quantile(delivery, 0.99))}`,
        '-',
        lsCell('crosstab'),
        'p99 <= 16',
      ])
    }
    await context.close()
  } finally {
    await browser.close()
    app.server.close()
    lsApp?.server.close()
  }
  results.loadavgEnd = loadavg()
  const header = ['Chromium (opfs-sahpool)', 'cairn adapter-web', 'raw sqlite-wasm in a Worker', 'livestore adapter-web 0.4.0', 'target']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  console.log(line(header))
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`)
  for (const r of rows) console.log(line(r))
  const out = fileURLToPath(new URL('../../results/web.json', import.meta.url))
  await mkdir(join(out, '..'), { recursive: true })
  await writeFile(out, JSON.stringify(results, null, 2))
  process.stderr.write(
    `load average at the end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; results: ${out}\n`,
  )
}

/** Commits in alternating tabs, each until the other tab's query saw it (same clock). */
async function crossTab(a: Page, b: Page): Promise<number[]> {
  const delivery: number[] = []
  for (let i = 0; i < SIZES.crossTab; i++) {
    const [from, to] = i % 2 === 0 ? [a, b] : [b, a]
    const id = `x${i}`
    const at = await call(from, 'commit', id)
    delivery.push((await call(to, 'seenAt', id)) - at)
  }
  return delivery
}

/** LiveStore's rows (the same page methods as Cairn's), each step within LS_STEP_MS. */
async function livestore(
  open: (page: Page) => Promise<Page>,
  context: Awaited<ReturnType<Awaited<ReturnType<typeof chromium.launch>>['newContext']>>,
): Promise<{ cells: Record<string, string>; results: Record<string, unknown> } | { failure: string }> {
  const cells: Record<string, string> = {}
  const results: Record<string, unknown> = {}
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      return await Promise.race([
        fn(),
        new Promise<never>(
          (_, reject) => (timer = setTimeout(() => reject(new Error(`took over ${LS_STEP_MS / 60_000} min`)), LS_STEP_MS)),
        ),
      ])
    } catch (e) {
      cells[what] = `failed: ${(e as Error).message.split('\n')[0]!.slice(0, 120)}`
      process.stderr.write(`livestore ${what}: ${(e as Error).message}\n`)
      return undefined
    } finally {
      clearTimeout(timer)
    }
  }
  try {
    const page = await open(await context.newPage())
    page.on('pageerror', (e) => process.stderr.write(`[livestore page error] ${e.message}\n`))
    if (runs('reload')) {
      process.stderr.write(`livestore reload: filling ${LS_RELOAD_EVENTS} events...\n`)
      await step('reload', async () => {
        await call(page, 'open', 'web', 'reload')
        await call(page, 'fill', LS_RELOAD_EVENTS, 1000)
        await call(page, 'shutdown')
        const reload: number[] = []
        for (let i = 0; i < SIZES.reloads; i++) {
          await open(page)
          reload.push((await call(page, 'open', 'web', 'reload')).ms)
          await call(page, 'shutdown')
        }
        results.reload = reload
        cells.reload = fmt(median(reload))
      })
    }
    if (runs('commit')) {
      await step('commit', async () => {
        await open(page)
        await call(page, 'open', 'web', 'commit')
        await call(page, 'commitTimes', 200)
        const times = await call(page, 'commitTimes', SIZES.commits)
        await call(page, 'shutdown')
        results.commit = times
        cells.commit = fmt(median(times))
      })
    }
    if (runs('persisted')) {
      await step('persisted', async () => {
        await open(page)
        await call(page, 'open', 'web', 'latency')
        await call(page, 'persistLatency', 20)
        const latency = await call(page, 'persistLatency', SIZES.latency)
        results.persisted = latency
        cells.persisted = `${fmt(median(latency))} / ${fmt(quantile(latency, 0.99))} (leader acked)`
      })
      await step('throughput', async () => {
        const ms = await call(page, 'fill', SIZES.throughput, 100)
        await call(page, 'shutdown')
        results.throughputMs = ms
        cells.throughput = `${Math.round(SIZES.throughput / (ms / 1000))} (leader acked)`
      })
    }
    if (runs('crosstab')) {
      await step('crosstab', async () => {
        const a = await open(page)
        await call(a, 'open', 'web', 'tabs')
        const b = await open(await context.newPage())
        await call(b, 'open', 'web', 'tabs')
        const delivery = await crossTab(a, b)
        results.crossTab = delivery
        cells.crosstab = `${fmt(median(delivery))} / ${fmt(quantile(delivery, 0.99))}`
      })
    }
    return { cells, results }
  } catch (e) {
    return { failure: `failed: ${(e as Error).message.split('\n')[0]!.slice(0, 120)}` }
  } finally {
    await context.close()
  }
}

await main()
