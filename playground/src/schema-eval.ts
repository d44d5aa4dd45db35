import * as core from '@cairn/core'
import type { Schema } from '@cairn/core'
import { transform } from 'sucrase'
import * as zod from 'zod'

/** Where in the editor a problem is, 1-based. */
export interface SourceProblem {
  readonly message: string
  readonly line: number | undefined
  readonly column: number | undefined
}

export type EvalResult = { readonly ok: true; readonly schema: Schema } | { readonly ok: false; readonly problem: SourceProblem }

/** The modules a schema may import; anything else is refused with the list. */
const MODULES: Record<string, unknown> = { '@cairn/core': core, zod, 'zod/v4': zod }

// `new Function` puts two lines ("function anonymous(require,exports\n) {") before the body
const WRAPPER_LINES = 2

/**
 * Runs the TypeScript source of a schema module and returns its `schema` export.
 *
 * Types are stripped by sucrase (it keeps line numbers, so errors point at the editor's lines);
 * the module body runs as a function that sees only `require` (for `@cairn/core` and `zod`)
 * and `exports`, not the playground's own variables. It is still the page's JavaScript: code
 * from a shared link runs only after the person presses Run.
 */
export function evaluateSchema(source: string): EvalResult {
  let code: string
  try {
    code = transform(source, { transforms: ['typescript', 'imports'], production: true, filePath: 'schema.ts' }).code
  } catch (e) {
    const loc = (e as { loc?: { line: number; column: number } }).loc
    const message = String((e as Error).message).replace(/\s*\(\d+:\d+\)$/, '')
    return { ok: false, problem: { message: `Syntax error: ${message}`, line: loc?.line, column: loc === undefined ? undefined : loc.column + 1 } }
  }
  const exports: Record<string, unknown> = {}
  const require = (name: string) => {
    if (name in MODULES) return MODULES[name]
    throw new Error(`Cannot import "${name}" here: a playground schema may import ${Object.keys(MODULES).map((m) => `"${m}"`).join(', ')}.`)
  }
  try {
    // eslint-disable-next-line no-new-func -- this is the point: run the person's schema module
    new Function('require', 'exports', `${code}\n//# sourceURL=schema.ts`)(require, exports)
  } catch (e) {
    return { ok: false, problem: runtimeProblem(e) }
  }
  const schema = exports.schema as Schema | undefined
  if (schema === undefined || typeof schema !== 'object' || !(schema.eventsByName instanceof Map)) {
    return {
      ok: false,
      problem: {
        message: 'The module must export its schema: `export const schema = makeSchema({ events, state })`.',
        line: undefined,
        column: undefined,
      },
    }
  }
  return { ok: true, schema }
}

/** The line of the schema's own frame in an error's stack (Chromium and Firefox formats). */
export function runtimeProblem(e: unknown): SourceProblem {
  const message = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e)
  const stack = e instanceof Error ? (e.stack ?? '') : ''
  const m = /schema\.ts:(\d+):(\d+)/.exec(stack)
  const line = m === null ? undefined : Number(m[1]) - WRAPPER_LINES
  return { message, line: line !== undefined && line >= 1 ? line : undefined, column: m === null ? undefined : Number(m[2]) }
}
