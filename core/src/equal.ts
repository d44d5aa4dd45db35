/**
 * Structural equality of query results (rows of JSON-like values, Dates, byte arrays), so a
 * re-run that returns the same data keeps the previous reference and notifies nobody.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b)
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false
    return true
  }
  if (a instanceof Date) return b instanceof Date && a.getTime() === b.getTime()
  if (a instanceof Uint8Array) {
    if (!(b instanceof Uint8Array) || a.byteLength !== b.byteLength) return false
    for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
    return true
  }
  if (Array.isArray(b) || b instanceof Date || b instanceof Uint8Array) return false
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false
  }
  return true
}
