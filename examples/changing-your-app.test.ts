import { readFileSync } from 'node:fs'
import { describe, expect, it, vi } from 'vitest'
import { oldClients, releases } from './changing-your-app.ts'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const section = readme.slice(readme.indexOf('## Changing your app'), readme.indexOf('\n## ', readme.indexOf('## Changing your app') + 1))
const source = readFileSync(new URL('./changing-your-app.ts', import.meta.url), 'utf8')

describe('README: Changing your app', () => {
  it('shows code of examples/changing-your-app.ts, verbatim', () => {
    const blocks = [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!)
    expect(blocks.length).toBe(5)
    for (const block of blocks) expect(source).toContain(block.trim())
  })

  it('prints what the README says it prints', async () => {
    const printed = /print:\n\n```\n([\s\S]*?)\n```/.exec(section)?.[1]?.split('\n')
    const lines: string[] = []
    await releases((line) => lines.push(line))
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    try {
      await oldClients((line) => lines.push(line))
      // release 3 said once that it keeps and skips the event it does not know
      expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringMatching(/"v2\.TodoCreated" .*kept and skipped/)])
    } finally {
      warn.mockRestore()
    }
    expect(lines).toEqual(printed)
  })
})
