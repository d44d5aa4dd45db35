/**
 * `npm run size`: the JavaScript each package adds to an app. An example import is bundled by
 * Vite (Rolldown) the way an app build does it: tree-shaken, minified, then gzipped (level 9). The
 * packages an app pays for once anyway (`@cairn/core` under an adapter, the framework) stay
 * external, so each row is what that package adds. sqlite-wasm is a row of its own: its JS glue,
 * and its `.wasm` binary (fetched at run time, never part of the JS). Entry chunk and its static
 * imports count; chunks loaded on demand (sqlite-wasm's OPFS and worker helpers) do not.
 * Sources resolve through the `@cairn/source` condition: the same modules as `dist/`, without a build.
 * test/packages/size.test.ts checks the budgets and the figures in the READMEs.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { build, type Plugin, type Rolldown } from 'vite'
import { cairnSource } from './source-conditions.ts'

const root = join(import.meta.dirname, '..')

export const adapters = ['react', 'vue', 'svelte', 'solid'] as const
export type Adapter = (typeof adapters)[number]

const frameworks = /^(react|react-dom|vue|svelte|solid-js)(\/|$)/

export interface Example {
  /** The row's name, e.g. `@cairn/core`. */
  readonly name: string
  /** The app's import, bundled as the entry (what it exports is kept). */
  readonly code: string
  /** Left out: bundled once per app and counted in its own row. */
  readonly external: (id: string) => boolean
}

/** One example import per package, what a typical app writes. */
export const examples: readonly Example[] = [
  {
    name: '@cairn/core',
    code: "export { createStorePromise, Events, makeInMemoryAdapter, makeSchema, queryDb, signal, computed, sql, State } from '@cairn/core'",
    external: (id) => id.startsWith('@sqlite.org/sqlite-wasm'),
  },
  {
    name: 'sqlite-wasm JS (under @cairn/core)',
    code: "export { default } from '@sqlite.org/sqlite-wasm'",
    external: () => false,
  },
  {
    name: '@cairn/sync (client)',
    code: "export { makeWsSync, makeHttpSync } from '@cairn/sync'",
    external: (id) => id.startsWith('@cairn/core'),
  },
  {
    name: '@cairn/adapter-web',
    code: "export { makePersistedAdapter } from '@cairn/adapter-web'",
    external: (id) => id.startsWith('@cairn/core') || id.startsWith('@sqlite.org/sqlite-wasm'),
  },
  {
    // the worker is a bundle of its own, with its own copy of core and sqlite-wasm's JS (their rows)
    name: '@cairn/adapter-web/worker',
    code: "export { makeWorker } from '@cairn/adapter-web/worker'",
    external: (id) => id.startsWith('@cairn/core') || id.startsWith('@sqlite.org/sqlite-wasm'),
  },
  ...adapters.map((a) => ({
    name: `@cairn/${a}`,
    code: `export * from '@cairn/${a}'`,
    external: (id: string) => id.startsWith('@cairn/core') || frameworks.test(id),
  })),
]

export interface Size {
  readonly minified: number
  readonly gzipped: number
}

function virtualEntry(code: string): Plugin {
  return {
    name: 'size-entry',
    resolveId: (id) => (id.endsWith('size-entry') ? '\0size-entry.js' : undefined),
    load: (id) => (id === '\0size-entry.js' ? code : undefined),
  }
}

/** Bundles one example as an app build would and measures the JS that loads with it. */
export async function measureExample(example: Example): Promise<Size> {
  const output = (await build({
    configFile: false,
    root,
    logLevel: 'silent',
    plugins: [cairnSource(), virtualEntry(example.code)],
    // an app build, not library mode (which inlines assets such as the .wasm file into the JS)
    build: {
      write: false,
      minify: true,
      modulePreload: false,
      assetsInlineLimit: 0,
      rolldownOptions: { input: 'size-entry', external: example.external, preserveEntrySignatures: 'exports-only' },
    },
  })) as Rolldown.RolldownOutput
  const chunks = output.output.filter((o): o is Rolldown.OutputChunk => o.type === 'chunk')
  // the entry and what it imports statically; on-demand chunks (workers, dynamic imports) load later or never
  const loaded = new Set<string>()
  const visit = (fileName: string) => {
    if (loaded.has(fileName)) return
    loaded.add(fileName)
    for (const i of chunks.find((c) => c.fileName === fileName)?.imports ?? []) visit(i)
  }
  for (const c of chunks) if (c.isEntry) visit(c.fileName)
  const code = chunks
    .filter((c) => loaded.has(c.fileName))
    .map((c) => c.code)
    .join('')
  return { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length }
}

/** sqlite-wasm's `.wasm` binary: fetched (and cached) by the browser, never part of the JS. */
export function sqliteWasmBinary(): Size {
  const pkg = createRequire(join(root, 'core', 'package.json')).resolve('@sqlite.org/sqlite-wasm/package.json')
  const dir = join(dirname(pkg), 'dist')
  const file = readdirSync(dir).find((f) => f.endsWith('.wasm'))
  if (file === undefined) throw new Error(`no .wasm file in ${dir}`)
  const bytes = readFileSync(join(dir, file))
  return { minified: bytes.length, gzipped: gzipSync(bytes, { level: 9 }).length }
}

export interface AdapterSize extends Size {
  readonly adapter: Adapter
  /** All lines of `src`, JSDoc included. */
  readonly lines: number
  /** Lines that are neither blank nor comments. */
  readonly codeLines: number
}

/** An adapter's source lines and the size of everything it exports (`export *`), core and framework external. */
export async function measure(adapter: Adapter): Promise<AdapterSize> {
  const src = join(root, 'adapters-ui', adapter, 'src')
  const lines = readdirSync(src).flatMap((f) => readFileSync(join(src, f), 'utf8').replace(/\n$/, '').split('\n'))
  const codeLines = lines.filter((l) => !/^\s*($|\/\/|\/\*\*?|\*)/.test(l)).length
  const size = await measureExample(examples.find((e) => e.name === `@cairn/${adapter}`)!)
  return { adapter, lines: lines.length, codeLines, ...size }
}

const kB = (n: number) => `${(n / 1024).toFixed(1)} kB`

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log('| package | example import | minified | min + gzip |\n| --- | --- | --- | --- |')
  for (const e of examples) {
    const s = await measureExample(e)
    console.log(`| ${e.name} | \`${e.code.replace(/^export /, 'import ')}\` | ${kB(s.minified)} | ${kB(s.gzipped)} |`)
  }
  const wasm = sqliteWasmBinary()
  console.log(`| sqlite-wasm .wasm binary (fetched, not JS) | | ${kB(wasm.minified)} | ${kB(wasm.gzipped)} |`)
  console.log('\n| adapter | lines (code) | minified | gzipped |\n| --- | --- | --- | --- |')
  for (const a of adapters) {
    const s = await measure(a)
    console.log(`| @cairn/${a} | ${s.lines} (${s.codeLines}) | ${s.minified} B | ${s.gzipped} B |`)
  }
}
