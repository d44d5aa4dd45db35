import { fileURLToPath } from 'node:url'
import { cairnSource } from '../../../../tooling/source-conditions.ts'

// A plain object, not `defineConfig`: `vite` resolves to bench/'s copy here (LiveStore's) but to the
// root's in tooling/, and their plugin types differ; the build runs with whichever loads this file.
export default {
  plugins: [cairnSource()],
  root: fileURLToPath(new URL('.', import.meta.url)),
  logLevel: 'warn' as const,
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  worker: { format: 'es' as const },
  optimizeDeps: { exclude: ['@sqlite.org/sqlite-wasm'] },
}
