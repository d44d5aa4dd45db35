import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import { cairnSource } from '../../../../tooling/source-conditions.ts'

// The test app as an app would build it: the worker as an ES module (sqlite-wasm is one), and
// sqlite-wasm left out of dependency pre-bundling so it finds its .wasm file.
export default defineConfig({
  // the workspace packages' sources, as every config in this repository (no build needed)
  plugins: [cairnSource()],
  root: fileURLToPath(new URL('.', import.meta.url)),
  logLevel: 'warn',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', minify: false },
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['@sqlite.org/sqlite-wasm'] },
})
