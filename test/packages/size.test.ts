import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { adapters, examples, measure, measureExample } from '../../tooling/size.ts'

const root = join(import.meta.dirname, '..', '..')

// Budgets, min + gzip bytes of what each package adds to an app (tooling/size.ts). Growing past one
// is a decision (raise it here and in README), not drift.
const budgets: Record<string, number> = {
  // 32 → 36 kB: refused events (drop, rebase without them), the size check at commit, syncPayload,
  // computed over a list, schema evolution, sessions showing other tabs' pending events
  '@cairn/core': 36 * 1024,
  // not our code, but every app loads it: a sqlite-wasm upgrade that grows it shows here
  'sqlite-wasm JS (under @cairn/core)': 70 * 1024,
  '@cairn/sync (client)': 6 * 1024,
  '@cairn/adapter-web': 4 * 1024,
  '@cairn/adapter-web/worker': 10 * 1024,
}
// An adapter is a thin bridge; growing past these means logic that belongs in core.
const adapterBudget = { lines: 160, gzipped: 1024 }

describe('measureExample', () => {
  it.each(examples.filter((e) => e.name in budgets).map((e) => [e.name, e] as const))(
    '%s stays within its budget, and README shows its current size',
    async (name, example) => {
      const size = await measureExample(example)
      expect(size.gzipped).toBeLessThanOrEqual(budgets[name]!)
      // README's table (npm run size) is current within 5% (bundler drift)
      const readme = readFileSync(join(root, 'README.md'), 'utf8')
      const row = readme.split('\n').find((l) => l.startsWith(`| ${name} |`))
      expect(row, `README.md has no size row for ${name}`).toBeDefined()
      const kB = Number(/\| ([\d.]+) kB \|$/.exec(row!)?.[1])
      expect(Math.abs(kB * 1024 - size.gzipped) / size.gzipped).toBeLessThan(0.05)
    },
  )
})

describe('measure (UI adapters)', () => {
  it.each(adapters)('@cairn/%s stays within its budget, as its README says', async (adapter) => {
    const size = await measure(adapter)
    expect(size.lines).toBeLessThanOrEqual(adapterBudget.lines)
    expect(size.gzipped).toBeLessThanOrEqual(adapterBudget.gzipped)
    // the README's figures (npm run size) are current: exact lines, gzipped within 5% (bundler drift)
    const readme = readFileSync(join(root, 'adapters-ui', adapter, 'README.md'), 'utf8')
    const [, lines, gzipped] = /\*\*(\d+) lines \(\d+ of code\), \d+ B minified, (\d+) B gzipped\*\*/.exec(readme) ?? []
    expect(Number(lines)).toBe(size.lines)
    expect(Math.abs(Number(gzipped) - size.gzipped) / size.gzipped).toBeLessThan(0.05)
  })
})
