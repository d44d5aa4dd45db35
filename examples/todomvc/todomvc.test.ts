import { describe, expect, it } from 'vitest'
import { build, type Rolldown } from 'vite'

// Each TodoMVC example is built by Vite here, so a broken example fails the test run.
describe('TodoMVC examples', () => {
  it.each(['react', 'vue', 'svelte', 'solid'])('%s builds with Vite', async (framework) => {
    const root = new URL(`./${framework}/`, import.meta.url).pathname
    const output = (await build({
      root,
      configFile: `${root}vite.config.ts`,
      logLevel: 'error',
      build: { write: false },
    })) as Rolldown.RolldownOutput
    const files = output.output.map((o) => o.fileName)
    expect(files).toContain('index.html')
    const entry = output.output.find((o) => o.type === 'chunk' && o.isEntry) as Rolldown.OutputChunk
    expect(entry.code).toContain('What needs to be done?')
  })
})
