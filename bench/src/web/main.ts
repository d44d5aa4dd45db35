// Part 3: @cairn/adapter-web in Chromium, side by side with the in-memory adapter (same page) and
// the floor: raw sqlite-wasm on opfs-sahpool in a Worker running the same statements.
// Run: npm run bench:web [-- --quick]   (bench/; needs /usr/bin/chromium or CHROMIUM_PATH)
import { readFile, mkdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { cpus } from 'node:os'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Page } from 'playwright-core'
import type { Bench } from './app/main.ts'

const quick = process.argv.includes('--quick')
const SIZES = quick
  ? { reloadEvents: Number(process.env.RELOAD_EVENTS ?? 10_000), reloads: 2, commits: 300, latency: 50, throughput: 2_000, crossTab: 50 }
  : { reloadEvents: 100_000, reloads: 5, commits: 2_000, latency: 300, throughput: 10_000, crossTab: 300 }
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const APP = fileURLToPath(new URL('./app/', import.meta.url))
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

async function main() {
  const { build } = await import('vite')
  process.stderr.write('building the bench page...\n')
  await build({ configFile: join(APP, 'vite.config.ts'), logLevel: 'error' })
  const dist = join(APP, 'dist')
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!
    const file = normalize(join(dist, path === '/' ? 'index.html' : path))
    readFile(file).then(
      (body) => res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end(),
    )
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  })
  const rows: [string, string, string, string][] = []
  const results: Record<string, unknown> = { sizes: SIZES, machine: { cpus: cpus().length, model: cpus()[0]?.model }, chromium: browser.version() }
  const open = async (page: Page) => {
    await page.goto(url)
    await page.waitForFunction(() => 'bench' in globalThis)
    return page
  }
  try {
    const context = await browser.newContext()
    const page = await open(await context.newPage())

    // 1. reload of a persisted store to the first query result
    process.stderr.write(`reload: filling ${SIZES.reloadEvents} events...\n`)
    await call(page, 'open', 'web', 'reload')
    await call(page, 'fill', SIZES.reloadEvents, 1000)
    await call(page, 'shutdown')
    const reload: number[] = []
    const reloadNav: number[] = []
    for (let i = 0; i < SIZES.reloads; i++) {
      await open(page)
      const r = await call(page, 'open', 'web', 'reload')
      reload.push(r.ms)
      reloadNav.push(r.sinceNavigation)
      await call(page, 'shutdown')
    }
    await call(page, 'rawOpen', true)
    await call(page, 'rawFill', SIZES.reloadEvents, 1000)
    const rawReload: number[] = []
    for (let i = 0; i < SIZES.reloads; i++) {
      await open(page)
      rawReload.push((await call(page, 'rawOpen', false)).ms)
      await call(page, 'rawClose')
    }
    results.reload = { cairn: reload, cairnSinceNavigation: reloadNav, raw: rawReload }
    rows.push([`reload ${SIZES.reloadEvents} events -> first query (ms)`, `${fmt(median(reload))} (${fmt(median(reloadNav))} since navigation)`, fmt(median(rawReload)), '<= 300'])

    // 2. single-event commit on the main thread: web adapter vs in-memory adapter
    await open(page)
    await call(page, 'open', 'web', 'commit')
    await call(page, 'commitTimes', 200)
    const webCommit = await call(page, 'commitTimes', SIZES.commits)
    await call(page, 'shutdown')
    await open(page)
    await call(page, 'open', 'memory', 'commit')
    await call(page, 'commitTimes', 200)
    const memCommit = await call(page, 'commitTimes', SIZES.commits)
    await call(page, 'shutdown')
    results.commit = { web: webCommit, memory: memCommit }
    rows.push([
      'single-event commit(), main thread (ms, median)',
      `${fmt(median(webCommit))} (in-memory adapter ${fmt(median(memCommit))}: ${(median(webCommit) / median(memCommit)).toFixed(2)}x)`,
      '-',
      '<= 1.2x in-memory',
    ])

    // 3. commit -> persisted, one event at a time
    await open(page)
    await call(page, 'open', 'web', 'latency')
    await call(page, 'persistLatency', 20)
    const latency = await call(page, 'persistLatency', SIZES.latency)
    // 4. durable events/s in commits of 100
    const fillMs = await call(page, 'fill', SIZES.throughput, 100)
    await call(page, 'shutdown')
    await call(page, 'rawOpen', true)
    await call(page, 'rawPersistLatency', 20)
    const rawLatency = await call(page, 'rawPersistLatency', SIZES.latency)
    const rawFillMs = await call(page, 'rawFill', SIZES.throughput, 100)
    await call(page, 'rawClose')
    results.persisted = { cairn: latency, raw: rawLatency }
    results.throughput = { cairnMs: fillMs, rawMs: rawFillMs, events: SIZES.throughput }
    rows.push(['commit -> persisted (ms, p50 / p99)', `${fmt(median(latency))} / ${fmt(quantile(latency, 0.99))}`, `${fmt(median(rawLatency))} / ${fmt(quantile(rawLatency, 0.99))}`, 'p50 <= 5'])
    rows.push([
      'durable events/s, commits of 100',
      String(Math.round(SIZES.throughput / (fillMs / 1000))),
      String(Math.round(SIZES.throughput / (rawFillMs / 1000))),
      '>= 5,000',
    ])

    // 5. cross-tab delivery: a commit in one tab seen by the other tab's query
    const a = page
    await call(a, 'open', 'web', 'tabs')
    const b = await open(await context.newPage())
    await call(b, 'open', 'web', 'tabs')
    const delivery: number[] = []
    for (let i = 0; i < SIZES.crossTab; i++) {
      const [from, to] = i % 2 === 0 ? [a, b] : [b, a]
      const id = `x${i}`
      const at = await call(from, 'commit', id)
      delivery.push((await call(to, 'seenAt', id)) - at)
    }
    results.crossTab = delivery
    rows.push(['cross-tab delivery, 2 tabs (ms, p50 / p99)', `${fmt(median(delivery))} / ${fmt(quantile(delivery, 0.99))}`, '-', 'p99 <= 16'])
    await context.close()
  } finally {
    await browser.close()
    server.close()
  }
  const header = ['Chromium (opfs-sahpool)', 'cairn adapter-web', 'raw sqlite-wasm in a Worker', 'target']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  console.log(line(header))
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`)
  for (const r of rows) console.log(line(r))
  const out = fileURLToPath(new URL('../../results/web.json', import.meta.url))
  await mkdir(join(out, '..'), { recursive: true })
  await writeFile(out, JSON.stringify(results, null, 2))
  process.stderr.write(`results: ${out}\n`)
}

await main()
