import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'
import { cairnSource } from '../../../tooling/source-conditions.ts'

export default defineConfig({ root: import.meta.dirname, plugins: [cairnSource(), react()], build: { chunkSizeWarningLimit: 2000 } })
