import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' }, // the Cairn worker is an ES module
  // the dev server finds what a worker imports only once the worker runs; listed, it is ready at start
  optimizeDeps: { include: ['@cairn/adapter-web/worker'] },
})
