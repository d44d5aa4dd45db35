import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import { cairnSource } from '../../../../tooling/source-conditions.ts'

export default defineConfig({
  plugins: [cairnSource()],
  root: fileURLToPath(new URL('.', import.meta.url)),
  logLevel: 'warn',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['@sqlite.org/sqlite-wasm'] },
})
