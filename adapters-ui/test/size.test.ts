import { describe, expect, it } from 'vitest'
import { adapters, measure } from '../size.ts'

// Budgets: an adapter is a thin bridge; growing past these means logic that belongs in core.
const budget = { lines: 160, gzipped: 1024 }

describe('adapter size', () => {
  it.each(adapters)('@cairn/%s stays within its budget', async (adapter) => {
    const size = await measure(adapter)
    expect(size.lines).toBeLessThanOrEqual(budget.lines)
    expect(size.gzipped).toBeLessThanOrEqual(budget.gzipped)
  })
})
