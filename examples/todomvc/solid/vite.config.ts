import { defineConfig } from 'vite'
import { cairnSource } from '../../../tooling/source-conditions.ts'
import solid from 'vite-plugin-solid'

export default defineConfig({ root: import.meta.dirname, plugins: [cairnSource(), solid()], build: { chunkSizeWarningLimit: 2000 } })
