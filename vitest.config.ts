import react from '@vitejs/plugin-react'
import vue from '@vitejs/plugin-vue'
import { svelte } from '@sveltejs/vite-plugin-svelte'
import { svelteTesting } from '@testing-library/svelte/vite'
import solid from 'vite-plugin-solid'
import { defineConfig } from 'vitest/config'

const ui = (name: string, include: string[]) => ({ name, environment: 'happy-dom', include, testTimeout: 30_000, pool: 'threads' as const })

export default defineConfig({
  test: {
    testTimeout: 30_000,
    pool: 'threads',
    projects: [
      {
        test: {
          name: 'core',
          include: [
            'core/test/**/*.test.ts',
            'examples/*.test.ts',
            'examples/todomvc/*.test.ts',
            'adapters-ui/test/size.test.ts',
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
      { test: { name: 'sync', include: ['sync/test/**/*.test.ts'], testTimeout: 30_000, pool: 'threads' } },
      {
        test: {
          name: 'adapter-node',
          include: ['adapters-platform/node/test/**/*.test.ts', 'adapters-platform/test/*.test.ts'],
          testTimeout: 60_000,
          pool: 'threads',
        },
      },
      { plugins: [react()], test: ui('react', ['adapters-ui/test/react.test.tsx', 'examples/todomvc/react/*.test.tsx']) },
      { plugins: [vue()], test: ui('vue', ['adapters-ui/test/vue.test.ts', 'examples/todomvc/vue/*.test.ts']) },
      {
        plugins: [svelte(), svelteTesting()],
        test: ui('svelte', ['adapters-ui/test/svelte.test.ts', 'examples/todomvc/svelte/*.test.ts']),
      },
      // server rendering: components compiled for the server, run in Node without a DOM
      {
        plugins: [svelte(), solid({ ssr: true })],
        test: {
          name: 'ssr',
          environment: 'node',
          include: ['adapters-ui/test/*-ssr.test.ts', 'adapters-ui/test/*-ssr.test.tsx'],
          pool: 'threads',
        },
      },
      { plugins: [solid()], test: ui('solid', ['adapters-ui/test/solid.test.tsx', 'examples/todomvc/solid/*.test.tsx']) },
    ],
  },
})
