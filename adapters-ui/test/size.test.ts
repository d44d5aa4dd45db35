import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { adapters, measure } from '../size.ts'

// Budgets: an adapter is a thin bridge; growing past these means logic that belongs in core.
const budget = { lines: 160, gzipped: 1024 }

describe('adapter size', () => {
  it.each(adapters)('@cairn/%s stays within its budget, as its README says', async (adapter) => {
    const size = await measure(adapter)
    expect(size.lines).toBeLessThanOrEqual(budget.lines)
    expect(size.gzipped).toBeLessThanOrEqual(budget.gzipped)
    // the README's figures (npm run size) are current: exact lines, gzipped within 5% (bundler drift)
    const readme = readFileSync(new URL(`../${adapter}/README.md`, import.meta.url), 'utf8')
    const [, lines, gzipped] = /\*\*(\d+) lines \(\d+ of code\), \d+ B minified, (\d+) B gzipped\*\*/.exec(readme) ?? []
    expect(Number(lines)).toBe(size.lines)
    expect(Math.abs(Number(gzipped) - size.gzipped) / size.gzipped).toBeLessThan(0.05)
  })
})
