import type { AnyEventDef } from '@cairn/core'
import { z } from 'zod'

/** The part of JSON Schema the commit forms understand. */
export interface JsonSchema {
  readonly type?: string | readonly string[]
  readonly properties?: Readonly<Record<string, JsonSchema>>
  readonly required?: readonly string[]
  readonly enum?: readonly unknown[]
  readonly const?: unknown
  readonly anyOf?: readonly JsonSchema[]
  readonly default?: unknown
  readonly description?: string
  readonly minimum?: number
  readonly maximum?: number
}

export type FieldKind = 'text' | 'number' | 'integer' | 'boolean' | 'enum' | 'json'

export interface Field {
  readonly name: string
  readonly kind: FieldKind
  readonly required: boolean
  readonly options: readonly string[]
  readonly schema: JsonSchema
}

interface StandardJsonSchema {
  readonly jsonSchema?: { readonly input?: (options: { target: string }) => unknown }
  readonly vendor?: string
}

/**
 * The JSON Schema of an event's args, if its validator can describe itself: Standard JSON Schema
 * (`~standard.jsonSchema`, Zod ≥ 4.2 and others), else Zod 4's `z.toJSONSchema`. Undefined for
 * validators that cannot (the form falls back to one JSON box).
 */
export function eventJsonSchema(def: AnyEventDef): JsonSchema | undefined {
  const standard = (def.schema as { '~standard'?: StandardJsonSchema })['~standard']
  try {
    if (typeof standard?.jsonSchema?.input === 'function') return standard.jsonSchema.input({ target: 'draft-2020-12' }) as JsonSchema
    if (standard?.vendor === 'zod') return z.toJSONSchema(def.schema as unknown as z.ZodType, { io: 'input', unrepresentable: 'any' }) as JsonSchema
  } catch (e) {
    // a validator that cannot be described (transforms, custom checks) still works through the JSON box
    console.info(`No form for "${def.eventName}": ${(e as Error).message}`)
  }
  return undefined
}

/** One field per property of an object schema; undefined when the args are not a plain object. */
export function formFields(schema: JsonSchema | undefined): Field[] | undefined {
  if (schema === undefined || schema.type !== 'object' || schema.properties === undefined) return undefined
  const required = new Set(schema.required ?? [])
  return Object.entries(schema.properties).map(([name, s]) => ({
    name,
    kind: fieldKind(s),
    required: required.has(name),
    options: (s.enum ?? []).map(String),
    schema: s,
  }))
}

function fieldKind(s: JsonSchema): FieldKind {
  if (s.enum !== undefined && s.enum.every((v) => typeof v === 'string')) return 'enum'
  switch (s.type) {
    case 'string':
      return 'text'
    case 'number':
      return 'number'
    case 'integer':
      return 'integer'
    case 'boolean':
      return 'boolean'
    default:
      return 'json'
  }
}

/** A field's starting text: ids get a fresh random id, enums their first option. */
export function initialValue(field: Field): string {
  if (field.schema.default !== undefined) return field.kind === 'json' ? JSON.stringify(field.schema.default) : String(field.schema.default)
  if (field.kind === 'text' && field.name === 'id') return randomId()
  if (field.kind === 'enum') return field.options[0] ?? ''
  if (field.kind === 'boolean') return 'false'
  return ''
}

export function randomId(): string {
  return Math.random().toString(36).slice(2, 8)
}

/**
 * The args the form's texts stand for. Empty optional fields are left out; a number or JSON
 * field that does not parse is passed as its text, so the validator names the field.
 */
export function argsFromForm(fields: readonly Field[], values: Readonly<Record<string, string>>): Record<string, unknown> {
  const args: Record<string, unknown> = {}
  for (const f of fields) {
    const text = values[f.name] ?? ''
    if (text === '' && !f.required && f.kind !== 'boolean') continue
    switch (f.kind) {
      case 'boolean':
        args[f.name] = text === 'true'
        break
      case 'number':
      case 'integer':
        args[f.name] = text.trim() === '' || Number.isNaN(Number(text)) ? text : Number(text)
        break
      case 'json':
        args[f.name] = parseJsonOr(text)
        break
      default:
        args[f.name] = text
    }
  }
  return args
}

export function parseJsonOr(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    // not JSON: the validator will say what the field needs
    return text
  }
}
