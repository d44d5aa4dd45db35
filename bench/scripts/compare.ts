// Compares one workload of one system across checkouts (or several systems in one checkout),
// alternating their processes so that the machine's drift hits every side alike:
//
//   node --import tsx bench/scripts/compare.ts --workload=w2 --runs=12 /path/to/before /path/to/after
//   node --import tsx bench/scripts/compare.ts --workload=w2 --systems=raw,cairn .
//
// Each argument is a repository checkout with its bench/ installed. Prints the median (min–max)
// of every metric per side and, with two sides, the ratio of their medians. A change of a few
// percent needs 12 runs or more: single runs of the same code differ by 10–40% on 2 cores.
import { execFileSync } from 'node:child_process'
import { resolve } from 'node:path'
import { paramsFor, type SystemId } from '../src/params.ts'

const args = process.argv.slice(2)
const option = (name: string, fallback: string): string => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback
const workload = option('workload', 'w2')
const runs = Number(option('runs', '8'))
const systems = option('systems', 'cairn').split(',') as SystemId[]
const dirs = args.filter((a) => !a.startsWith('--')).map((d) => resolve(d))
if (dirs.length === 0) dirs.push(resolve('.'))

const sides = dirs.flatMap((dir) =>
  systems.map((system) => ({ dir, system, label: `${system} @ ${dir}`, values: {} as Record<string, number[]> })),
)
for (let i = 0; i < runs; i++) {
  for (const side of sides) {
    const out = execFileSync(
      'node',
      // the full sizes of a bench run (LiveStore's smaller ones included)
      [
        '--import',
        'tsx',
        '--import',
        './scripts/resolve-fallback.mjs',
        'src/child.ts',
        side.system,
        workload,
        JSON.stringify(paramsFor(side.system, false)),
      ],
      { cwd: `${side.dir}/bench`, env: { ...process.env, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'inherit'] },
    ).toString()
    const message = JSON.parse(out)
    if (!message.ok) throw new Error(`${side.label}: ${message.error}`)
    for (const [key, value] of Object.entries(message.result.metrics as Record<string, number>)) (side.values[key] ??= []).push(value)
  }
  process.stderr.write(`run ${i + 1}/${runs}\n`)
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const fmt = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3))
for (const side of sides) {
  console.log(side.label)
  for (const [key, xs] of Object.entries(side.values))
    console.log(`  ${key}: ${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`)
}
if (sides.length === 2) {
  const [a, b] = sides as [(typeof sides)[0], (typeof sides)[0]]
  console.log(`second ÷ first (medians):`)
  for (const key of Object.keys(b.values)) {
    const before = a.values[key]
    const after = b.values[key]
    if (before === undefined || after === undefined) continue
    const [x, y] = [median(before), median(after)]
    console.log(`  ${key}: ${x === y ? 'equal' : `${(y / x).toFixed(2)}×`}`)
  }
}
