// `npm run bench` part 4: persistence on Node. Cairn with @cairn/adapter-node, raw better-sqlite3
// running the same statements into one file with the same durability, and LiveStore's node
// adapter with file storage. Every step runs in its own process, one at a time.
//
//   n1  durable throughput: commits of 100 events, each awaited until durable
//   n2  single-event commits, each awaited until durable
//       (both: N timed after an untimed warm-up, and the first N of the process; see phases.ts)
//   n3  boot of a persisted store to the first query result (a fresh process after the setup)
//   n4  rebuild of the state from the persisted log (schema change), a fresh process
//   n5  bulk import: commits of 100 made in one loop, only the last awaited until durable; then N more
//       in one commit
//
// Flags shared with parts 1-2: --quick, --reps=N, --only=n1,n3 (w*/s* ids are the other parts'),
// --systems=cairn-node,bsql, --strict; --node-out=path (default results/node-latest.json).
import { fork } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { median } from '../stats.ts'
import type { NodeChildMessage } from './child.ts'
import { NODE_SYSTEMS, NODE_WORKLOADS, nodeParamsFor, type NodeSystemId, type NodeWorkloadId } from './params.ts'
import type { StepId, StepResult } from './types.ts'

const here = path.dirname(fileURLToPath(import.meta.url))
const benchDir = path.resolve(here, '..', '..')
const fallbackHook = pathToFileURL(path.join(benchDir, 'scripts', 'resolve-fallback.mjs')).href
// Cairn's children load sqlite-wasm before tsx, as built JavaScript would (see the script)
const preloadSqlite = pathToFileURL(path.join(benchDir, 'scripts', 'preload-sqlite-wasm.mjs')).href
const argv = process.argv.slice(2)
const fromNpm = (name: string) => process.env[`npm_config_${name}`]
const valueOf = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fromNpm(name)
const quick = argv.includes('--quick') || fromNpm('quick') === 'true'
const strict = argv.includes('--strict') || fromNpm('strict') === 'true'
const reps = Number(valueOf('reps') ?? (quick ? 1 : 3))
const onlyIds = (valueOf('only') ?? '').split(',').filter((s) => s !== '')
const workloads = onlyIds.length === 0 ? NODE_WORKLOADS : NODE_WORKLOADS.filter((w) => onlyIds.includes(w))
// --systems names part 1's systems too (cairn, raw): those select cairn-node and bsql here
const systemIds = (valueOf('systems') ?? '').split(',').filter((s) => s !== '')
const alias: Record<string, NodeSystemId> = { cairn: 'cairn-node', raw: 'bsql', livestore: 'livestore-file' }
const systems = systemIds.length === 0 ? NODE_SYSTEMS : NODE_SYSTEMS.filter((s) => systemIds.some((id) => id === s || alias[id] === s))
const out = valueOf('node-out') ?? path.join(benchDir, 'results', 'node-latest.json')
const log = (s: string) => process.stderr.write(`${s}\n`)

function step(system: NodeSystemId, id: StepId, dir: string): Promise<StepResult> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(here, 'child.ts'), [system, id, JSON.stringify(nodeParamsFor(system, quick)), dir], {
      execArgv: [
        ...(system === 'cairn-node' ? ['--import', preloadSqlite] : []),
        '--conditions=@cairn/source',
        '--import',
        'tsx',
        '--import',
        fallbackHook,
      ],
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 6 * 60_000)
    let message: NodeChildMessage | undefined
    child.on('message', (m) => (message = m as NodeChildMessage))
    child.on('exit', (code) => {
      clearTimeout(timer)
      if (message?.ok) resolve(message.result)
      else reject(new Error(message?.ok === false ? message.error : `exited with ${code}`))
    })
  })
}

/** metric values per workload, system and metric id, one per rep */
type Samples = Record<string, Record<string, Record<string, number[]>>>
const samples: Samples = {}
const failures: Record<string, Record<string, string>> = {}
const add = (w: NodeWorkloadId, s: NodeSystemId, r: StepResult) => {
  const bySystem = ((samples[w] ??= {})[s] ??= {})
  for (const [k, v] of Object.entries(r.metrics)) (bySystem[k] ??= []).push(v)
}

async function run(): Promise<void> {
  const t0 = performance.now()
  for (let rep = 0; rep < reps; rep++) {
    for (const system of systems) {
      const fresh = () => mkdtempSync(path.join(os.tmpdir(), `cairn-bench-node-${system}-`))
      const attempt = async (w: NodeWorkloadId, body: (dir: string) => Promise<void>) => {
        const dir = fresh()
        try {
          await body(dir)
        } catch (e) {
          ;(failures[w] ??= {})[system] = (e as Error).message
          log(`  ${w} ${system}: failed: ${(e as Error).message}`)
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      }
      if (workloads.includes('n1')) await attempt('n1', async (dir) => add('n1', system, await step(system, 'throughput', dir)))
      if (workloads.includes('n2')) await attempt('n2', async (dir) => add('n2', system, await step(system, 'singles', dir)))
      if (workloads.includes('n5')) await attempt('n5', async (dir) => add('n5', system, await step(system, 'bulk', dir)))
      if (workloads.includes('n3') || workloads.includes('n4')) {
        await attempt(workloads.includes('n3') ? 'n3' : 'n4', async (dir) => {
          const setup = await step(system, 'setup', dir)
          if (workloads.includes('n3')) add('n3', system, { metrics: { ...setup.metrics, ...(await step(system, 'boot', dir)).metrics } })
          if (workloads.includes('n4')) add('n4', system, await step(system, 'rebuild', dir))
        })
      }
      log(`rep ${rep + 1}/${reps} ${system} done (${((performance.now() - t0) / 1000).toFixed(0)} s)`)
    }
  }
}

const ROWS: Record<NodeWorkloadId, { title: string; n: (s: NodeSystemId) => number; metrics: [string, string, boolean?][] }> = {
  n1: {
    title: 'n1. durable commits of 100 events, each awaited until durable',
    n: (s) => nodeParamsFor(s, quick).throughputEvents,
    metrics: [
      ['events_per_s', 'events/s, after a warm-up (see below)'],
      ['cold_events_per_s', 'events/s of the first N in a fresh process'],
      ['cpu_ms', 'CPU of the timed part (ms, all threads)'],
      ['rss_mb', 'peak RSS (MB)'],
    ],
  },
  n2: {
    title: 'n2. single-event commits, each awaited until durable',
    n: (s) => nodeParamsFor(s, quick).singles,
    metrics: [
      ['commits_per_s', 'commits/s, after a warm-up (see below)'],
      ['cold_commits_per_s', 'commits/s of the first N in a fresh process'],
      ['cpu_ms', 'CPU of the timed part (ms, all threads)'],
      ['rss_mb', 'peak RSS (MB)'],
    ],
  },
  n5: {
    title: 'n5. bulk import: commits of 100 made in one loop, only the last awaited until durable; then N more in one commit',
    n: (s) => nodeParamsFor(s, quick).bulkEvents,
    metrics: [
      ['events_per_s', 'events/s, commits of 100 in one loop'],
      ['one_commit_events_per_s', 'events/s, then N more in one commit'],
      ['cpu_ms', 'CPU of the loop (ms, all threads)'],
      ['rss_mb', 'peak RSS (MB)'],
    ],
  },
  n3: {
    title: 'n3. boot a persisted store (fresh process) to the first query result',
    n: (s) => nodeParamsFor(s, quick).persist,
    metrics: [
      ['setup_ms', 'setup: write N events, 1,000 per commit (ms) †', true],
      ['module_ms', 'load sqlite-wasm before the boot (ms)'],
      ['boot_ms', 'boot to first query result (ms) †', true],
      ['cpu_ms', 'CPU of the boot (ms, all threads) †', true],
      ['rss_mb', 'peak RSS of the boot process (MB)'],
    ],
  },
  n4: {
    title: 'n4. rebuild the state from the persisted log (schema changed), fresh process',
    n: (s) => nodeParamsFor(s, quick).persist,
    metrics: [
      ['rebuild_ms', 'open + rebuild + first query (ms) †', true],
      ['cpu_ms', 'CPU of the rebuild (ms, all threads) †', true],
      ['rss_mb', 'peak RSS (MB)'],
    ],
  },
}

const fmt = (v: number) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v >= 10 ? v.toFixed(1) : v.toPrecision(3))
function cell(values: number[] | undefined): string {
  if (values === undefined || values.length === 0) return 'n/a'
  const sorted = [...values].sort((a, b) => a - b)
  return values.length === 1 ? fmt(values[0]!) : `${fmt(median(values))} (${fmt(sorted[0]!)}–${fmt(sorted.at(-1)!)})`
}

function table(): string {
  const lines = [
    '| workload | metric | cairn-node | raw better-sqlite3 | livestore (fs) | cairn-node/raw | cairn-node/livestore |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ]
  for (const w of workloads) {
    const def = ROWS[w]
    const show = (s: NodeSystemId) => (failures[w]?.[s] !== undefined ? `failed: ${failures[w]![s]}` : systems.includes(s) ? '' : 'not run')
    lines.push(`| ${def.title} | N | ${NODE_SYSTEMS.map((s) => show(s) || def.n(s).toLocaleString('en-US')).join(' | ')} | | |`)
    for (const [id, label, total] of def.metrics) {
      const v = (s: NodeSystemId) => samples[w]?.[s]?.[id]
      const ratio = (a: NodeSystemId, b: NodeSystemId) => {
        const x = v(a)
        const y = v(b)
        if (x === undefined || y === undefined || x.length === 0 || y.length === 0) return 'n/a'
        if (total && def.n(a) !== def.n(b)) return 'n/a (N differs)'
        if (median(y) === 0) return 'n/a'
        return `${(median(x) / median(y)).toPrecision(3)}×`
      }
      lines.push(
        `| | ${label} | ${NODE_SYSTEMS.map((s) => show(s) || cell(v(s))).join(' | ')} | ${ratio('cairn-node', 'bsql')} | ${ratio('cairn-node', 'livestore-file')} |`,
      )
    }
  }
  return lines.join('\n')
}

if (workloads.length > 0 && systems.length > 0 && !(onlyIds.length > 0 && !onlyIds.some((id) => /^n\d+$/.test(id)))) {
  log(`bench part 4 (persistence on Node): ${workloads.join(', ')} × ${systems.join(', ')}, ${reps} rep(s)${quick ? ', quick sizes' : ''}`)
  await run()
  console.log(
    `\n## Part 4: persistence on Node\n\n${table()}\n\n† a total that grows with N.\n` +
      `n1, n2: each system commits N, then an untimed warm-up (${fmt(nodeParamsFor('cairn-node', quick).warmupEvents)} events for n1, ` +
      `${fmt(nodeParamsFor('cairn-node', quick).warmupSingles)} commits for n2; LiveStore a fifth of that), then N more: "after a warm-up" times those, ` +
      `"the first N" the process's first (V8 still compiling JS and wasm; native SQLite needs none of it).`,
  )
  mkdirSync(path.dirname(out), { recursive: true })
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), quick, reps, samples, failures }, null, 2))
  if (strict && Object.keys(failures).length > 0) process.exit(1)
}
