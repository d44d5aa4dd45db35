// The group commit's rules with the fdatasync held back: a commit resolves only after a sync that
// started after it returned, commits made during a sync share the next one, a failed sync is final.
import { describe, expect, it } from 'vitest'
import { GroupCommit } from '../src/durability.ts'

/** A GroupCommit on a pretend descriptor whose syncs wait until `release()`. */
function held(fail?: string) {
  const waiting: ((error: NodeJS.ErrnoException | null) => void)[] = []
  let syncs = 0
  const group = new GroupCommit(
    () => 7,
    (e) => new Error(`sync failed: ${e.code}`),
    (fd, callback) => {
      expect(fd).toBe(7)
      syncs++
      waiting.push(callback)
    },
  )
  const release = () => {
    for (const callback of waiting.splice(0)) callback(fail === undefined ? null : Object.assign(new Error(fail), { code: fail }))
  }
  return { group, release, syncs: () => syncs }
}

const settled = (p: Promise<unknown>) => {
  let done: 'resolved' | 'rejected' | undefined
  p.then(
    () => (done = 'resolved'),
    () => (done = 'rejected'),
  )
  return () => done
}
const turns = async (n = 3) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r))
}

describe('GroupCommit.commit', () => {
  it('resolves only once a sync that started after the commit returned', async () => {
    const { group, release, syncs } = held()
    const first = settled(group.commit())
    await turns()
    expect(first()).toBeUndefined()
    expect(syncs()).toBe(1)
    release()
    await turns()
    expect(first()).toBe('resolved')
  })

  it('makes the commits made during a sync share the next one', async () => {
    const { group, release, syncs } = held()
    const a = settled(group.commit())
    const b = settled(group.commit()) // the sync for a has started: b waits for the next
    const c = settled(group.commit())
    await turns()
    expect(syncs()).toBe(1)
    release()
    await turns()
    expect([a(), b(), c()]).toEqual(['resolved', undefined, undefined])
    expect(syncs()).toBe(2) // b and c: one sync for both
    release()
    await turns()
    expect([b(), c()]).toEqual(['resolved', 'resolved'])
  })

  it('refuses every later commit after a failed sync', async () => {
    const { group, release } = held('EIO')
    const a = group.commit()
    release()
    await expect(a).rejects.toThrow('sync failed: EIO')
    await expect(group.commit()).rejects.toThrow('sync failed: EIO')
  })

  it('resolves at once while there is no file to sync', async () => {
    const group = new GroupCommit(
      () => undefined,
      (e) => e,
      () => {
        throw new Error('no sync expected')
      },
    )
    await expect(group.commit()).resolves.toBeUndefined()
  })
})

describe('GroupCommit.flush', () => {
  it('waits for the sync covering every commit so far', async () => {
    const { group, release } = held()
    void group.commit()
    const flushed = settled(group.flush())
    await turns()
    expect(flushed()).toBeUndefined()
    release()
    await turns()
    expect(flushed()).toBe('resolved')
  })
})
