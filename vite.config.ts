// Builds the browser playground (playground/ → playground/dist). `npm start` runs this build and
// serves the result with the sync server; the tests keep their own config in vitest.config.ts.
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'
import { cairnSource } from './tooling/source-conditions.ts'

export default defineConfig({
  root: 'playground',
  base: './',
  // the workspace packages' sources, not their dist/ (tooling/source-conditions.ts)
  plugins: [cairnSource(), react()],
  // sqlite-wasm finds its .wasm file next to its module; pre-bundling would move the module away from it
  optimizeDeps: { exclude: ['@sqlite.org/sqlite-wasm'] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    reportCompressedSize: false,
    // one chunk on purpose: the page needs all of it to be usable (see playground/README.md for the budget)
    chunkSizeWarningLimit: 2500,
  },
  worker: { format: 'es' },
})
