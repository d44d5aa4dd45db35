import type { StandardSchemaV1 } from '@standard-schema/spec'
import { SchemaError, type Issue } from '../errors.ts'

export type { StandardSchemaV1 }

/** The validator's own success result (no copy per call), or its issues as Cairn reports them. */
export type ValidationResult<T> = { readonly value: T; readonly issues?: undefined } | { readonly issues: Issue[] }

/** Throws a SchemaError unless `schema` is a Standard Schema v1 validator. */
export function requireStandardSchema(schema: unknown, what: string): asserts schema is StandardSchemaV1 {
  if (schema === null || typeof schema !== 'object' || !('~standard' in schema)) {
    throw new SchemaError(`${what}: schema must be a Standard Schema v1 validator (Zod, Valibot, ArkType, Effect Schema...).`)
  }
}

/**
 * Validates synchronously with any Standard Schema v1 validator. Async validators are refused
 * because commits and reads are synchronous.
 */
export function validateSync<S extends StandardSchemaV1>(
  schema: S,
  value: unknown,
  what: string,
): ValidationResult<StandardSchemaV1.InferOutput<S>> {
  const result = schema['~standard'].validate(value)
  if (result instanceof Promise) {
    throw new SchemaError(`${what}: its schema validates asynchronously; Cairn needs a synchronous schema.`)
  }
  if (result.issues !== undefined) return { issues: result.issues.map(toIssue) }
  return result as StandardSchemaV1.SuccessResult<StandardSchemaV1.InferOutput<S>>
}

function toIssue(issue: StandardSchemaV1.Issue): Issue {
  const path = (issue.path ?? [])
    .map((seg) => (typeof seg === 'object' && seg !== null && 'key' in seg ? seg.key : seg))
    .map(String)
    .join('.')
  return { path, message: issue.message }
}
