import { describe, expect, it } from 'vitest'
import { deepEqual } from '../src/reactive/equal.ts'

describe('deepEqual', () => {
  it('compares rows by value, in any key order', () => {
    expect(deepEqual([{ id: 'a', n: 1 }], [{ id: 'a', n: 1 }])).toBe(true)
    expect(deepEqual({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true)
    expect(deepEqual([{ id: 'a', n: 1 }], [{ id: 'a', n: 2 }])).toBe(false)
    expect(deepEqual([{ id: 'a' }], [{ id: 'a' }, { id: 'b' }])).toBe(false)
  })

  it('tells a missing key from one holding undefined, and counts keys both ways', () => {
    expect(deepEqual({ x: undefined, y: 1 }, { y: 1, z: undefined })).toBe(false)
    expect(deepEqual({ x: undefined }, {})).toBe(false)
    expect(deepEqual({}, { x: undefined })).toBe(false)
    expect(deepEqual({ x: undefined }, { x: undefined })).toBe(true)
    expect(deepEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false)
  })

  it('compares nested values, dates, bytes and NaN by value', () => {
    expect(deepEqual({ d: new Date(5), b: new Uint8Array([1, 2]), n: NaN }, { d: new Date(5), b: new Uint8Array([1, 2]), n: NaN })).toBe(
      true,
    )
    expect(deepEqual({ d: new Date(5) }, { d: new Date(6) })).toBe(false)
    expect(deepEqual({ b: new Uint8Array([1]) }, { b: new Uint8Array([2]) })).toBe(false)
    expect(deepEqual({ tags: ['a', 'b'] }, { tags: ['a', 'b'] })).toBe(true)
    expect(deepEqual({ tags: ['a'] }, { tags: { 0: 'a' } })).toBe(false)
    expect(deepEqual(null, {})).toBe(false)
    expect(deepEqual(0, -0)).toBe(true)
  })

  it('ignores inherited keys', () => {
    const proto = { inherited: 1 }
    const a = Object.assign(Object.create(proto) as Record<string, unknown>, { own: 1 })
    expect(deepEqual(a, { own: 1 })).toBe(true)
  })
})
