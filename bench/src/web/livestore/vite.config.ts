import { fileURLToPath } from 'node:url'

// LiveStore's page, built on its own so that a LiveStore bundling failure leaves Cairn's rows alone.
// As LiveStore's docs ask: the workers as ES modules, wa-sqlite left out of dependency pre-bundling.
export default {
  root: fileURLToPath(new URL('.', import.meta.url)),
  logLevel: 'warn' as const,
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  worker: { format: 'es' as const },
  optimizeDeps: { exclude: ['@livestore/wa-sqlite'] },
  define: { 'process.env.NODE_ENV': '"production"' },
}
