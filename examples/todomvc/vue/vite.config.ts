import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vite'
import { cairnSource } from '../../../tooling/source-conditions.ts'

export default defineConfig({ root: import.meta.dirname, plugins: [cairnSource(), vue()], build: { chunkSizeWarningLimit: 2000 } })
