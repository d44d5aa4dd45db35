import type { Schema } from '@cairn/core'
import { compileModule, runModule, type ModuleFunction } from './schema-module.ts'

/** Where in the editor a problem is, 1-based. */
export interface SourceProblem {
  readonly message: string
  readonly line: number | undefined
  readonly column: number | undefined
}

export type EvalResult =
  /** `code`: the module without types, which each client's worker runs again (schema-module.ts). */
  | { readonly ok: true; readonly schema: Schema; readonly code: string }
  | { readonly ok: false; readonly problem: SourceProblem }

// `new Function` puts two lines ("function anonymous(require,exports\n) {") before the body
const WRAPPER_LINES = 2

/**
 * Runs the TypeScript source of a schema module and returns its `schema` export.
 * Unedited presets skip this: they are compiled into the page (see presets.ts).
 *
 * Types are stripped by sucrase (it keeps line numbers, so errors point at the editor's lines);
 * the module body runs as a function that sees only `require` (for `@cairn/core` and `zod`)
 * and `exports`, not the playground's own variables. It is still the page's JavaScript: code
 * from a shared link runs only after the person presses Run.
 */
export async function evaluateSchema(source: string): Promise<EvalResult> {
  // loaded on first use: the presets run without it, so the first page load does not wait for it
  const { transform } = await import('sucrase')
  let code: string
  try {
    code = transform(source, { transforms: ['typescript', 'imports'], production: true, filePath: 'schema.ts' }).code
  } catch (e) {
    const loc = (e as { loc?: { line: number; column: number } }).loc
    const message = String((e as Error).message).replace(/\s*\(\d+:\d+\)$/, '')
    return { ok: false, problem: { message: `Syntax error: ${message}`, line: loc?.line, column: loc === undefined ? undefined : loc.column + 1 } }
  }
  let run: ModuleFunction
  try {
    run = compileModule(code)
  } catch (e) {
    // sucrase lets some invalid code through; the engine's SyntaxError has no position, a script's has
    const at = e instanceof SyntaxError ? await locateSyntaxError(code) : undefined
    return { ok: false, problem: { message: `Syntax error: ${(e as Error).message}`, line: at?.line, column: at?.column } }
  }
  let schema: Schema | undefined
  try {
    schema = runModule(run)
  } catch (e) {
    return { ok: false, problem: runtimeProblem(e) }
  }
  if (schema === undefined) {
    return {
      ok: false,
      problem: {
        message: 'The module must export its schema: `export const schema = makeSchema({ events, state })`.',
        line: undefined,
        column: undefined,
      },
    }
  }
  return { ok: true, schema, code }
}

/** The line of the schema's own frame in an error's stack (Chromium and Firefox formats). */
export function runtimeProblem(e: unknown): SourceProblem {
  const message = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e)
  const stack = e instanceof Error ? (e.stack ?? '') : ''
  const m = /schema\.ts:(\d+):(\d+)/.exec(stack)
  const line = m === null ? undefined : Number(m[1]) - WRAPPER_LINES
  return { message, line: line !== undefined && line >= 1 ? line : undefined, column: m === null ? undefined : Number(m[2]) }
}

/**
 * Where the engine finds a syntax error in `code`: it is loaded as a script that only defines a
 * function (nothing runs), and the script's error event carries the line and column.
 */
function locateSyntaxError(code: string): Promise<{ line: number; column: number } | undefined> {
  return new Promise((resolve) => {
    const src = URL.createObjectURL(new Blob([`(function (require, exports) {\n${code}\n})`], { type: 'text/javascript' }))
    const script = document.createElement('script')
    const done = (at: { line: number; column: number } | undefined) => {
      window.removeEventListener('error', onError, true)
      script.remove()
      URL.revokeObjectURL(src)
      resolve(at)
    }
    const onError = (e: ErrorEvent) => {
      if (e.filename !== src) return
      e.preventDefault()
      done({ line: e.lineno - 1, column: e.colno })
    }
    window.addEventListener('error', onError, true)
    script.src = src
    script.onload = () => done(undefined)
    script.onerror = () => done(undefined)
    document.head.append(script)
  })
}
