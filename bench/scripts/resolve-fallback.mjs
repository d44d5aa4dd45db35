// Cairn's sources (../core/src) resolve their packages from the repo root's node_modules. When the
// root has not been installed, this hook lets them fall back to bench/node_modules, which pins the
// same packages (@sqlite.org/sqlite-wasm, @preact/signals-core, @standard-schema/spec).
import { register } from 'node:module'

register('./resolve-fallback-hooks.mjs', import.meta.url)
