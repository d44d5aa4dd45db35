// `npm run bench`: runs every workload for every system, each in its own child process, one
// after another (2 cores: parallel runs would measure each other), then prints one markdown
// table and writes results/latest.json.
//
//   npm run bench                          full sizes, 3 processes per cell (~10 min on 2 cores)
//   npm run bench -- --quick               small sizes, 1 process per cell: a smoke run for CI (<1 min)
//   --strict                               exit 1 when a system failed a workload
//   npm run bench -- --only=w1,w3 --systems=cairn,raw --reps=1
import { execFileSync, fork } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { ChildMessage } from './child.ts'
import { paramsFor, SYSTEMS, timeoutMsFor, WORKLOADS, type Params, type SystemId, type WorkloadId } from './params.ts'
import { renderTable, WORKLOAD_DEFS, type Cell, type Outcomes, type SystemOutcome } from './report.ts'
import type { WorkloadResult } from './types.ts'

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const childPath = path.join(benchDir, 'src', 'child.ts')
const fallbackHook = pathToFileURL(path.join(benchDir, 'scripts', 'resolve-fallback.mjs')).href

interface Options {
  readonly quick: boolean
  readonly workloads: readonly WorkloadId[]
  readonly systems: readonly SystemId[]
  readonly reps: number
  readonly out: string
  /** Exit with status 1 when a system failed a workload (the CI smoke run). */
  readonly strict: boolean
}

function parseOptions(argv: readonly string[]): Options {
  // From the repo root, `npm run bench -- --quick` reaches bench's npm as `run bench --quick`, which
  // npm reads as its own config: such flags arrive as npm_config_<name> environment variables.
  const fromNpm = (name: string) => process.env[`npm_config_${name}`]
  const flag = (name: string) => argv.find((a) => a === `--${name}` || a.startsWith(`--${name}=`))
  const valueOf = (name: string) => {
    const f = flag(name)
    return f !== undefined ? f.split('=').slice(1).join('=') : fromNpm(name)
  }
  const list = <T extends string>(name: string, all: readonly T[]): readonly T[] => {
    const v = valueOf(name)
    if (v === undefined || v === '') return all
    // s1..s3 are the sync workloads (src/sync/main.ts runs them after this), n1..n4 and the
    // systems cairn-node, bsql, livestore-file those of part 4 (src/node/main.ts)
    const picked = v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => !(name === 'only' && /^[sn]\d+$/.test(s)) && !(name === 'systems' && /^(cairn-node|bsql|livestore-file)$/.test(s))) as T[]
    const unknown = picked.filter((s) => !all.includes(s))
    if (unknown.length > 0) throw new Error(`--${name}: unknown ${unknown.join(', ')} (choose from ${all.join(', ')})`)
    return all.filter((s) => picked.includes(s))
  }
  const quick = flag('quick') !== undefined || fromNpm('quick') === 'true'
  const reps = Number(valueOf('reps') ?? (quick ? 1 : 3))
  if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps must be a positive integer')
  return {
    quick,
    workloads: list('only', WORKLOADS),
    systems: list('systems', SYSTEMS),
    reps,
    out: valueOf('out') ?? path.join(benchDir, 'results', 'latest.json'),
    strict: flag('strict') !== undefined || fromNpm('strict') === 'true',
  }
}

function machine() {
  let cpu = os.cpus()[0]?.model ?? 'unknown'
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))
    if (m) cpu = m[1]!.trim()
  } catch {
    // not Linux: os.cpus() is what we have
  }
  return {
    nproc: os.availableParallelism(),
    cpu,
    memGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    cairn: cairnVersion(),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
  }
}

/** Runs one workload of one system in a fresh process. Never throws: failures become the result. */
function runChild(
  system: SystemId,
  workload: WorkloadId,
  params: Params,
  timeoutMs: number,
): Promise<{ result?: WorkloadResult; error?: string; wallMs: number }> {
  const start = performance.now()
  return new Promise((resolve) => {
    const child = fork(childPath, [system, workload, JSON.stringify(params)], {
      cwd: benchDir,
      execArgv: ['--conditions=@cairn/source', '--import', 'tsx', '--import', fallbackHook],
      env: { ...process.env, NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    })
    let stderr = ''
    const keep = (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000)
    }
    child.stdout!.on('data', () => {}) // libraries' chatter is not part of the report
    child.stderr!.on('data', keep)
    let message: ChildMessage | undefined
    child.on('message', (m) => (message = m as ChildMessage))
    const timer = setTimeout(() => {
      message ??= { ok: false, error: `timed out after ${Math.round(timeoutMs / 1000)} s` }
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      const wallMs = performance.now() - start
      if (message?.ok === true) resolve({ result: message.result, wallMs })
      else if (message?.ok === false) resolve({ error: message.error, wallMs })
      else {
        const lastLine = stderr.trim().split('\n').filter(Boolean).pop() ?? ''
        resolve({ error: `exited (${signal ?? code}) without a result${lastLine ? `: ${lastLine.slice(0, 160)}` : ''}`, wallMs })
      }
    })
  })
}

function combine(runs: readonly { result?: WorkloadResult; error?: string; wallMs: number }[]): SystemOutcome {
  const wallMs = runs.reduce((s, r) => s + r.wallMs, 0)
  const ok = runs.filter((r) => r.result !== undefined).map((r) => r.result!)
  if (ok.length === 0) return { metrics: {}, failed: runs[0]?.error ?? 'no run', notes: [], wallMs }
  const metrics: Record<string, Cell> = {}
  for (const id of Object.keys(ok[0]!.metrics)) metrics[id] = { values: ok.map((r) => r.metrics[id]!).filter((v) => v !== undefined) }
  const notes = [...new Set(ok.flatMap((r) => r.notes ?? []))]
  const failures = runs.filter((r) => r.error !== undefined)
  if (failures.length > 0) notes.push(`${failures.length} of ${runs.length} runs failed: ${failures[0]!.error}`)
  return { n: ok[0]!.n, metrics, notes, wallMs }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const started = new Date()
  const t0 = performance.now()
  const info = machine()
  const outcomes: Outcomes = {}
  const failures: string[] = []
  const log = (s: string) => process.stderr.write(`${s}\n`)
  log(
    `cairn bench (${options.quick ? 'quick' : 'full'}): workloads ${options.workloads.join(', ')}; systems ${options.systems.join(', ')}; ${options.reps} rep(s)`,
  )
  for (const workload of options.workloads) {
    // repetitions interleave the systems, so a drift of the machine does not favour one of them
    const runs = new Map<SystemId, Awaited<ReturnType<typeof runChild>>[]>()
    for (let rep = 0; rep < options.reps; rep++) {
      for (const system of options.systems) {
        const run = await runChild(system, workload, paramsFor(system, options.quick), timeoutMsFor(system, options.quick))
        log(
          `  ${workload} ${system.padEnd(9)} ${(run.wallMs / 1000).toFixed(1).padStart(6)} s  ${run.error ? `FAILED: ${run.error}` : 'ok'}`,
        )
        runs.set(system, [...(runs.get(system) ?? []), run])
        if (run.error) failures.push(`${workload} ${system}: ${run.error}`)
      }
    }
    for (const [system, list] of runs) (outcomes[workload] ??= {})[system] = combine(list)
  }
  const totalS = (performance.now() - t0) / 1000

  const table = renderTable(outcomes, options.workloads)
  const notes = collectNotes(outcomes, options)
  const header = [
    `## Cairn benchmark (${options.quick ? 'quick' : 'full'} run)`,
    '',
    `${started.toISOString().slice(0, 10)} · ${info.nproc} cores · ${info.cpu} · ${info.memGb} GB · Node ${info.node} · ${info.platform} · cairn ${info.cairn} · ` +
      `${options.reps} process(es) per cell${options.reps > 1 ? ' (median, min–max)' : ''} · run took ${Math.round(totalS)} s`,
    '',
  ]
  const text = [...header, table, '', ...notes].join('\n')
  process.stdout.write(`${text}\n`)

  mkdirSync(path.dirname(options.out), { recursive: true })
  const json = {
    date: started.toISOString(),
    mode: options.quick ? 'quick' : 'full',
    machine: info,
    reps: options.reps,
    totalSeconds: totalS,
    params: Object.fromEntries(options.systems.map((s) => [s, paramsFor(s, options.quick)])),
    results: outcomes,
    markdown: text,
  }
  writeFileSync(options.out, `${JSON.stringify(json, null, 2)}\n`)
  log(`wrote ${path.relative(process.cwd(), options.out)} (${Math.round(totalS)} s)`)
  if (options.strict && failures.length > 0) {
    process.stderr.write(`bench --strict: ${failures.length} failed run(s):\n${failures.map((f) => `  ${f}`).join('\n')}\n`)
    process.exit(1)
  }
}

function collectNotes(outcomes: Outcomes, options: Options): string[] {
  const smaller = WORKLOAD_DEFS.filter((def) => {
    const o = outcomes[def.id]
    const ls = o?.livestore?.n
    const reference = o?.cairn?.n ?? o?.raw?.n
    return ls !== undefined && reference !== undefined && ls !== reference
  }).map((def) => def.id.slice(1))
  const lines = ['† a total that grows with N.']
  if (smaller.length > 0) {
    lines.push(
      `LiveStore ran workload${smaller.length > 1 ? 's' : ''} ${listText(smaller)} with a smaller N (see the N rows) to keep the run short: its per-event`,
      'and per-call figures are comparable, its totals are not (cairn/livestore reads "n/a (N differs)"). In workload 1 a',
      'smaller N favours LiveStore: its table and its list of pending events stay smaller.',
    )
  }
  const extra: string[] = []
  for (const def of WORKLOAD_DEFS) {
    if (!options.workloads.includes(def.id)) continue
    for (const system of options.systems) {
      for (const note of outcomes[def.id]?.[system]?.notes ?? []) extra.push(`- ${note}`)
    }
  }
  return extra.length > 0 ? [...lines, '', 'Notes:', ...extra] : lines
}

const listText = (items: readonly string[]) =>
  items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`

/** The commit Cairn's sources were measured at, "+dirty" when core/ has uncommitted changes. */
function cairnVersion(): string {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: benchDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  try {
    const head = git('rev-parse', '--short', 'HEAD')
    return git('status', '--porcelain', '--', '../core').length > 0 ? `${head}+dirty` : head
  } catch {
    return 'unknown'
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error)?.stack ?? e}\n`)
  process.exit(1)
})
