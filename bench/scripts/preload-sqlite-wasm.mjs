// Loads @sqlite.org/sqlite-wasm with Node's own loader, before tsx is registered (the Node
// persistence children pass it to `--import` ahead of tsx). tsx rewrites every JS module that has
// a dynamic import(), with a source map; for sqlite-wasm's 490 KB node.mjs that took ~0.7 s and
// ~65 MB of RSS in each child, which an app running built JavaScript never pays. Later imports of
// the same file (from Cairn's sources, through tsx) get this module instance.
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'

const resolveFrom = (base) => {
  try {
    return createRequire(base).resolve('@sqlite.org/sqlite-wasm')
  } catch {
    return undefined // not installed there: the next place is tried
  }
}
// where Cairn's sources resolve it (the root's node_modules), else bench's own (resolve-fallback.mjs)
const resolved = resolveFrom(new URL('../../core/package.json', import.meta.url)) ?? resolveFrom(new URL('../package.json', import.meta.url))
if (resolved !== undefined) await import(pathToFileURL(resolved).href)
