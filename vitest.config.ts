import react from '@vitejs/plugin-react'
import vue from '@vitejs/plugin-vue'
import { svelte } from '@sveltejs/vite-plugin-svelte'
import { svelteTesting } from '@testing-library/svelte/vite'
import solid from 'vite-plugin-solid'
import { defineConfig } from 'vitest/config'
import { cairnSource } from './tooling/source-conditions.ts'

const ui = (name: string, include: string[]) => ({ name, environment: 'happy-dom', include, testTimeout: 30_000, pool: 'threads' as const })

// every project resolves the workspace packages to their sources (tooling/source-conditions.ts)
export default defineConfig({
  test: {
    testTimeout: 30_000,
    pool: 'threads',
    projects: [
      {
        plugins: [cairnSource()],
        test: {
          name: 'core',
          include: [
            'core/test/**/*.test.ts',
            'examples/*.test.ts',
            'examples/todomvc/*.test.ts',
            'test/**/*.test.ts',
          ],
          typecheck: {
            enabled: true,
            include: ['core/test/**/*.test-d.ts', 'adapters-ui/test/**/*.test-d.ts'],
            // only the type tests (and what they import) are checked here; `npm run typecheck` checks the whole repo
            tsconfig: './tsconfig.typetests.json',
          },
          testTimeout: 30_000,
          pool: 'threads',
        },
      },
      { plugins: [cairnSource()], test: { name: 'sync', include: ['sync/test/**/*.test.ts'], testTimeout: 30_000, pool: 'threads' } },
      {
        plugins: [cairnSource()],
        test: {
          name: 'adapter-node',
          include: ['adapters-platform/node/test/**/*.test.ts', 'adapters-platform/test/*.test.ts'],
          testTimeout: 60_000,
          pool: 'threads',
        },
      },
      // the browser playground end to end: builds it, runs `npm start`'s server, drives Chromium
      {
        plugins: [cairnSource()],
        test: { name: 'playground', include: ['playground/test/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 120_000, pool: 'forks' },
      },
      // real Chromium through playwright-core; one file at a time (each starts a browser and a build)
      {
        plugins: [cairnSource()],
        test: {
          name: 'web',
          include: ['adapters-platform/web/test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          pool: 'forks',
          fileParallelism: false,
        },
      },
      { plugins: [cairnSource(), react()], test: ui('react', ['adapters-ui/test/react.test.tsx', 'examples/todomvc/react/*.test.tsx']) },
      { plugins: [cairnSource(), vue()], test: ui('vue', ['adapters-ui/test/vue.test.ts', 'examples/todomvc/vue/*.test.ts']) },
      {
        plugins: [cairnSource(), svelte(), svelteTesting()],
        test: ui('svelte', ['adapters-ui/test/svelte.test.ts', 'examples/todomvc/svelte/*.test.ts']),
      },
      // server rendering: components compiled for the server, run in Node without a DOM
      {
        plugins: [cairnSource(), svelte(), solid({ ssr: true })],
        test: {
          name: 'ssr',
          environment: 'node',
          include: ['adapters-ui/test/*-ssr.test.ts', 'adapters-ui/test/*-ssr.test.tsx'],
          pool: 'threads',
        },
      },
      { plugins: [cairnSource(), solid()], test: ui('solid', ['adapters-ui/test/solid.test.tsx', 'examples/todomvc/solid/*.test.tsx']) },
    ],
  },
})
