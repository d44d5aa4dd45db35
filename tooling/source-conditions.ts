/**
 * Development resolution of the workspace packages. Each package's `exports` lists a custom
 * `@cairn/source` condition first, pointing at its TypeScript source; published consumers never
 * set it and get `dist/`. Everything inside this repository sets it, so tests, examples and the
 * playground run the sources with no build step:
 * - Vite and Vitest: the `cairnSource()` plugin below (every Vite config and Vitest project),
 * - tsc / vue-tsc / svelte-check: `customConditions` in tsconfig.json,
 * - Node scripts under tsx: `node --conditions=@cairn/source --import tsx file.ts`.
 */
import { defaultClientConditions, defaultServerConditions, type Plugin } from 'vite'

export const SOURCE_CONDITION = '@cairn/source'

/** Adds `@cairn/source` in front of Vite's default conditions, for browser and server builds. */
export function cairnSource(): Plugin {
  return {
    name: 'cairn-source',
    config: () => ({
      resolve: { conditions: [SOURCE_CONDITION, ...defaultClientConditions] },
      ssr: { resolve: { conditions: [SOURCE_CONDITION, ...defaultServerConditions] } },
    }),
  }
}
