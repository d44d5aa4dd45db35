import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { quickstart } from './quickstart.ts'

describe('README quick start', () => {
  it('is the code of examples/quickstart.ts, verbatim', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
    const source = readFileSync(new URL('./quickstart.ts', import.meta.url), 'utf8')
    expect(readme).toContain(source.trim())
  })

  it('prints what the README says it prints', async () => {
    const lines: string[] = []
    await quickstart((line) => lines.push(line))
    expect(lines).toEqual([
      'open: (none)',
      'selected: nothing',
      'open: Buy milk, Call mom',
      'selected: Buy milk',
      'open: Call mom',
      'selected: nothing',
      'done: 1',
      'filter: done',
      'status: {"pending":2,"localHead":"e3.1","leaderHead":"e2","serverHead":null,"connected":false,"error":null}',
    ])
  })
})
