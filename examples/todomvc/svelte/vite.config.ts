import { svelte } from '@sveltejs/vite-plugin-svelte'
import { defineConfig } from 'vite'
import { cairnSource } from '../../../tooling/source-conditions.ts'

export default defineConfig({ root: import.meta.dirname, plugins: [cairnSource(), svelte()], build: { chunkSizeWarningLimit: 2000 } })
