/**
 * Measures each UI adapter: source lines and the minified + gzipped size of its bundle, with
 * `@cairn/core` and the framework left external (what the adapter adds to an app).
 * `npm run size` prints the table; adapters-ui/test/size.test.ts checks the budgets.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { build, type Rolldown } from 'vite'

export const adapters = ['react', 'vue', 'svelte', 'solid'] as const

export interface AdapterSize {
  readonly adapter: (typeof adapters)[number]
  /** All lines of `src`, JSDoc included. */
  readonly lines: number
  /** Lines that are neither blank nor comments. */
  readonly codeLines: number
  readonly minified: number
  readonly gzipped: number
}

export async function measure(adapter: (typeof adapters)[number]): Promise<AdapterSize> {
  const src = new URL(`./${adapter}/src/`, import.meta.url).pathname
  const lines = readdirSync(src).flatMap((f) =>
    readFileSync(src + f, 'utf8')
      .replace(/\n$/, '')
      .split('\n'),
  )
  const codeLines = lines.filter((l) => !/^\s*($|\/\/|\/\*\*?|\*)/.test(l)).length
  const output = (await build({
    configFile: false,
    logLevel: 'silent',
    build: {
      write: false,
      minify: true,
      lib: { entry: src + 'index.ts', formats: ['es'], fileName: 'index' },
      rolldownOptions: { external: (id) => /^(@cairn\/core|react|vue|svelte|solid-js)(\/|$)/.test(id) },
    },
  })) as Rolldown.RolldownOutput[]
  const code = output[0]!.output.map((o) => (o.type === 'chunk' ? o.code : '')).join('')
  return { adapter, lines: lines.length, codeLines, minified: code.length, gzipped: gzipSync(code, { level: 9 }).length }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log('| adapter | lines (code) | minified | gzipped |\n| --- | --- | --- | --- |')
  for (const a of adapters) {
    const s = await measure(a)
    console.log(`| @cairn/${a} | ${s.lines} (${s.codeLines}) | ${s.minified} B | ${s.gzipped} B |`)
  }
}
