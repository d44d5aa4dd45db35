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
    for (let i = 0; i < a.length; i++) {
      const x = a[i]
      const y = b[i]
      if (x !== y && !deepEqual(x, y)) return false
    }
    return true
  }
  if (a instanceof Date) return b instanceof Date && a.getTime() === b.getTime()
  if (a instanceof Uint8Array) {
    if (!(b instanceof Uint8Array) || a.byteLength !== b.byteLength) return false
    for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
    return true
  }
  if (Array.isArray(b) || b instanceof Date || b instanceof Uint8Array) return false
  return equalRecords(a as Record<string, unknown>, b as Record<string, unknown>)
}

const hasOwn = Object.prototype.hasOwnProperty

// Rows of one statement share a hidden class, so `for…in` walks a cached key list: no key arrays
// are allocated, which made up most of the comparison's cost on every re-run.
function equalRecords(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  let count = 0
  for (const k in a) {
    if (!hasOwn.call(a, k)) continue
    const x = a[k]
    const y = b[k]
    if (x !== y) {
      if (!deepEqual(x, y)) return false
    } else if (x === undefined && !hasOwn.call(b, k)) return false
    count++
  }
  for (const k in b) if (hasOwn.call(b, k)) count--
  return count === 0
}
