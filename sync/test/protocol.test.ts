import { DEFAULT_SYNC_LIMITS, SyncError } from '@cairn/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeClientMessage, decodeServerMessage, httpStatusOf, jsonDepthExceeds, toSyncError, toWireError } from '../src/protocol.ts'

const limits = DEFAULT_SYNC_LIMITS
const event = { eventId: 'e1', producerSeq: 1, name: 'v1.X', args: { a: 1 }, clientId: 'c1', sessionId: 's1' }
const decode = (value: unknown) => decodeClientMessage(typeof value === 'string' ? value : JSON.stringify(value), limits)

describe('decodeClientMessage', () => {
  it('decodes hello, push, pull, ping', () => {
    expect(decode({ v: 1, type: 'hello', storeId: 's', clientId: 'c', sessionId: 'x', cursor: 3, token: 't' })).toEqual({
      ok: true,
      message: { v: 1, type: 'hello', storeId: 's', clientId: 'c', sessionId: 'x', backendId: null, cursor: 3, token: 't' },
    })
    expect(decode({ v: 1, type: 'push', reqId: 7, events: [event] })).toEqual({
      ok: true,
      message: { v: 1, type: 'push', reqId: 7, events: [event] },
    })
    expect(decode({ v: 1, type: 'pull', after: 0, live: true })).toEqual({
      ok: true,
      message: { v: 1, type: 'pull', after: 0, live: true },
    })
    expect(decode({ v: 1, type: 'ping' })).toEqual({ ok: true, message: { v: 1, type: 'ping' } })
  })

  it('refuses garbage with a typed Protocol error', () => {
    for (const bad of [
      '',
      '{',
      'null',
      '[]',
      '42',
      '"x"',
      { type: 'ping' },
      { v: 2, type: 'ping' },
      { v: 1, type: 'nope' },
      { v: 1, type: 7 },
    ]) {
      const result = decode(bad)
      expect(result.ok, JSON.stringify(bad)).toBe(false)
      if (!result.ok) expect(result.error.code).toBe('Protocol')
    }
  })

  it('refuses wrong field types and huge numbers', () => {
    expect(decode({ v: 1, type: 'pull', after: -1 }).ok).toBe(false)
    expect(decode({ v: 1, type: 'pull', after: 1e300 }).ok).toBe(false)
    expect(decode('{"v":1,"type":"pull","after":1e999}').ok).toBe(false)
    expect(decode({ v: 1, type: 'pull', after: '3' }).ok).toBe(false)
    expect(decode({ v: 1, type: 'hello', storeId: 's', clientId: 'c', sessionId: 'x', cursor: 1.5 }).ok).toBe(false)
    expect(decode({ v: 1, type: 'hello', storeId: '', clientId: 'c', sessionId: 'x', cursor: 0 }).ok).toBe(false)
    expect(decode({ v: 1, type: 'hello', storeId: 'x'.repeat(300), clientId: 'c', sessionId: 'x', cursor: 0 }).ok).toBe(false)
  })

  it('refuses a bad event as Invalid with its index and the push reqId', () => {
    const result = decode({ v: 1, type: 'push', reqId: 4, events: [event, { ...event, producerSeq: 0 }] })
    expect(result).toMatchObject({ ok: false, error: { code: 'Invalid', index: 1, reqId: 4 } })
    expect(decode({ v: 1, type: 'push', reqId: 4, events: [{ ...event, seq: 99 }] })).toMatchObject({
      ok: false,
      error: { code: 'Invalid', index: 0 },
    })
    expect(decode({ v: 1, type: 'push', reqId: 4, events: [] })).toMatchObject({ ok: false, error: { code: 'Invalid' } })
    expect(decode({ v: 1, type: 'push', reqId: 4, events: Array(limits.maxEventsPerPush + 1).fill(event) })).toMatchObject({
      ok: false,
      error: { code: 'TooLarge', reqId: 4 },
    })
  })

  it('refuses deeply nested args without recursing', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000)
    const text = `{"v":1,"type":"push","reqId":1,"events":[{"eventId":"e","producerSeq":1,"name":"n","clientId":"c","sessionId":"s","args":${deep}}]}`
    const result = decodeClientMessage(text, limits)
    expect(result.ok).toBe(false)
    expect(jsonDepthExceeds({ a: [[1]] }, 3)).toBe(false)
    expect(jsonDepthExceeds({ a: [[[1]]] }, 3)).toBe(true)
  })

  it('never throws on arbitrary input (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify({ v: 1, type: 'push', reqId: 1, events: [v] })),
        ),
        (text) => {
          const result = decodeClientMessage(text, limits)
          expect(typeof result.ok).toBe('boolean')
        },
      ),
      { numRuns: 2000 },
    )
  })
})

describe('decodeServerMessage', () => {
  it('decodes every server message and refuses malformed ones', () => {
    expect(decodeServerMessage(JSON.stringify({ v: 1, type: 'welcome', backendId: 'b', head: 0, limits })).ok).toBe(true)
    expect(decodeServerMessage(JSON.stringify({ v: 1, type: 'events', batch: [{ ...event, seq: 1 }], head: 1, remaining: 0 })).ok).toBe(
      true,
    )
    expect(
      decodeServerMessage(JSON.stringify({ v: 1, type: 'pushError', reqId: 1, code: 'ProducerGap', message: 'm', expected: 3 })),
    ).toMatchObject({
      ok: true,
      message: { code: 'ProducerGap', expected: 3 },
    })
    expect(decodeServerMessage(JSON.stringify({ v: 1, type: 'events', batch: [{ ...event, seq: 0 }], head: 1, remaining: 0 })).ok).toBe(
      false,
    )
    expect(decodeServerMessage(JSON.stringify({ v: 1, type: 'error', code: 'Bogus', message: '' })).ok).toBe(false)
  })
})

describe('toSyncError / toWireError / httpStatusOf', () => {
  it('round-trips details and maps statuses', () => {
    const error = new SyncError('RateLimited', 'slow down', { retryAfterMs: 1500 })
    const back = toSyncError(toWireError(error))
    expect([back.code, back.message, back.retryAfterMs]).toEqual(['RateLimited', 'slow down', 1500])
    expect(['Unauthorized', 'Forbidden', 'BackendIdMismatch', 'TooLarge', 'RateLimited'].map((c) => httpStatusOf(c as never))).toEqual([
      401, 403, 409, 413, 429,
    ])
  })
})
