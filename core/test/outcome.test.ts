import { describe, expect, it } from 'vitest'
import { Outcome } from '../src/session/outcome.ts'

describe('Outcome', () => {
  it('resolves a promise asked for before or after it is settled', async () => {
    const early = new Outcome()
    const promise = early.promise
    early.resolve()
    await expect(promise).resolves.toBeUndefined()
    const late = new Outcome()
    late.settle()
    await expect(late.promise).resolves.toBeUndefined()
    expect(late.promise).toBe(late.promise)
  })

  it('rejects with the error, and the first settlement wins', async () => {
    const failed = new Outcome()
    failed.reject(new Error('leader down'))
    failed.resolve()
    await expect(failed.promise).rejects.toThrow('leader down')
    const done = new Outcome()
    const promise = done.promise
    done.resolve()
    done.settle(new Error('too late'))
    await expect(promise).resolves.toBeUndefined()
  })

  it('never reports an unhandled rejection when nobody asks', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (e: unknown) => unhandled.push(e)
    process.on('unhandledRejection', onUnhandled)
    const asked = new Outcome()
    void asked.promise
    asked.reject(new Error('x'))
    new Outcome().reject(new Error('y'))
    await new Promise((r) => setTimeout(r, 10))
    process.off('unhandledRejection', onUnhandled)
    expect(unhandled).toEqual([])
  })
})
