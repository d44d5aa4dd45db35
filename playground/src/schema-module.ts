// Running a schema module's JavaScript (types already stripped), in the page or in a client's
// worker: the same code, the same two importable modules, so both get the same schema (and state
// hash, which the web adapter's worker checks against the page's).
import * as core from '@cairn/core'
import type { Schema } from '@cairn/core'
import * as zod from 'zod'
import * as chat from './presets/chat.ts'
import * as issues from './presets/issues.ts'
import * as todos from './presets/todos.ts'

/** The modules a schema may import; anything else is refused with the list. */
const MODULES: Record<string, unknown> = { '@cairn/core': core, zod, 'zod/v4': zod }

/** The presets compiled into the bundle (page and worker), by preset name. */
export const PRESET_SCHEMAS: Readonly<Record<string, Schema>> = { todos: todos.schema, chat: chat.schema, issues: issues.schema }

/** Where a client's schema comes from: an unedited preset, or the transpiled module the page ran. */
export type SchemaSource = { readonly preset: string } | { readonly code: string }

export type ModuleFunction = (require: (name: string) => unknown, exports: Record<string, unknown>) => void

/** The module body as a function that sees only `require` and `exports`. Throws a SyntaxError. */
export function compileModule(code: string): ModuleFunction {
  return new Function('require', 'exports', `${code}\n//# sourceURL=schema.ts`) as ModuleFunction
}

/** Runs a compiled module; returns its `schema` export, or undefined when it exports none. Throws what the module throws. */
export function runModule(run: ModuleFunction): Schema | undefined {
  const exports: Record<string, unknown> = {}
  const require = (name: string) => {
    if (name in MODULES) return MODULES[name]
    throw new Error(`Cannot import "${name}" here: a playground schema may import ${Object.keys(MODULES).map((m) => `"${m}"`).join(', ')}.`)
  }
  run(require, exports)
  const schema = exports.schema as Schema | undefined
  return schema !== undefined && typeof schema === 'object' && schema.eventsByName instanceof Map ? schema : undefined
}

/** The schema of a source (in a client's worker, where the page already checked that it runs). */
export function schemaOf(source: SchemaSource): Schema {
  if ('preset' in source) {
    const schema = PRESET_SCHEMAS[source.preset]
    if (schema === undefined) throw new Error(`No preset named "${source.preset}" in this build.`)
    return schema
  }
  const schema = runModule(compileModule(source.code))
  if (schema === undefined) throw new Error('The schema module exports no `schema`.')
  return schema
}
