/** A value as one short line of text for tables and the eventlog. */
export function formatCell(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  if (value instanceof Date) return value.toISOString()
  if (value instanceof Uint8Array) return `<${value.length} bytes>`
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

/** Args as compact JSON, cut at `max` characters. */
export function formatArgs(args: unknown, max = 160): string {
  const text = JSON.stringify(args) ?? 'undefined'
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}
