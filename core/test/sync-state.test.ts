import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { SeqNum } from '../src/events/seq-num.ts'
import {
  addLocal,
  checkSyncState,
  confirmPrefix,
  dropPending,
  initialSyncState,
  mergeUpstream,
  type Sequenced,
  type SyncState,
} from '../src/sync/sync-state.ts'

interface Ev extends Sequenced {
  readonly origin: string
}
const withSeqNum = (e: Ev, seqNum: SeqNum): Ev => ({ ...e, seqNum })
const local = (eventId: string): Ev => ({ eventId, origin: 'A', seqNum: { global: 0, client: 0, rebaseGeneration: 0 } })
const upstream = (eventId: string, global: number): Ev => ({
  eventId,
  origin: 'server',
  seqNum: { global, client: 0, rebaseGeneration: 0 },
})
const show = (e: Ev) => `${e.eventId}@e${e.seqNum.global}${e.seqNum.rebaseGeneration > 0 ? `r${e.seqNum.rebaseGeneration}` : ''}`

describe('addLocal', () => {
  it('numbers local events after the local head, chained', () => {
    let state = initialSyncState<Ev>(2)
    ;({ state } = addLocal(state, [local('a'), local('b')], withSeqNum))
    ;({ state } = addLocal(state, [local('c')], withSeqNum))
    expect(state.pending.map(show)).toEqual(['a@e3', 'b@e4', 'c@e5'])
    checkSyncState(state)
  })

  it('adopts a later rebase generation carried by an event and renumbers pending to it', () => {
    let state = initialSyncState<Ev>(2)
    ;({ state } = addLocal(state, [local('a')], withSeqNum))
    const rebased: Ev = { ...local('b'), seqNum: { global: 9, client: 0, rebaseGeneration: 2 } }
    ;({ state } = addLocal(state, [rebased], withSeqNum))
    expect(state.pending.map(show)).toEqual(['a@e3r2', 'b@e4r2'])
    checkSyncState(state)
  })
})

describe('mergeUpstream', () => {
  it('the walkthrough: A and B both commit after e2, B wins e3, A rebases to e4r1', () => {
    let state = initialSyncState<Ev>(2)
    ;({ state } = addLocal(state, [local('A1')], withSeqNum))
    expect(state.pending.map(show)).toEqual(['A1@e3']) // 1. A commits: pending e3
    const result = mergeUpstream(state, [upstream('B1', 3)], withSeqNum) // 2. B's event arrives as e3
    if (result.type !== 'merged') throw new Error(result.reason)
    expect({
      confirmed: result.confirmed.map(show),
      rollback: result.rollback.map(show),
      apply: result.apply.map(show),
      replay: result.replay.map(show),
    }).toEqual({
      confirmed: [], // nothing of A's was confirmed in place
      rollback: ['A1@e3'], // 3. undo A's e3
      apply: ['B1@e3'], // 4. apply B's e3
      replay: ['A1@e4r1'], // 5. redo A's event on top as e4r1
    })
    expect(result.state).toEqual({ upstreamHead: 3, pending: [result.replay[0]], rebaseGeneration: 1 })
    const confirmedA = mergeUpstream(
      result.state,
      [{ ...result.replay[0]!, seqNum: { global: 4, client: 0, rebaseGeneration: 0 } }],
      withSeqNum,
    )
    if (confirmedA.type !== 'merged') throw new Error(confirmedA.reason)
    expect(confirmedA.confirmed.map((e) => e.eventId)).toEqual(['A1']) // 6. the server accepts A's event as e4
    expect(confirmedA.state.pending).toEqual([])
    expect(confirmedA.state.upstreamHead).toBe(4)
  })

  it('confirms a matching prefix in place and keeps the rest of pending as numbered', () => {
    let state = initialSyncState<Ev>(0)
    ;({ state } = addLocal(state, [local('a'), local('b'), local('c')], withSeqNum))
    const result = mergeUpstream(state, [upstream('a', 1), upstream('b', 2)], withSeqNum)
    if (result.type !== 'merged') throw new Error(result.reason)
    expect(result.confirmed.map((e) => e.eventId)).toEqual(['a', 'b'])
    expect(result.rollback).toEqual([])
    expect(result.state.pending.map(show)).toEqual(['c@e3'])
  })

  it('ignores re-delivered events and refuses a gap without changing state', () => {
    const state = initialSyncState<Ev>(3)
    const again = mergeUpstream(state, [upstream('x', 2), upstream('y', 3)], withSeqNum)
    expect(again).toMatchObject({ type: 'merged', apply: [], state })
    const gap = mergeUpstream(state, [upstream('z', 5)], withSeqNum)
    expect(gap).toMatchObject({ type: 'rejected', expected: 4, state })
  })

  it('rolls back past a confirmed prefix and drops own events that arrived later in the batch', () => {
    let state = initialSyncState<Ev>(0)
    ;({ state } = addLocal(state, [local('a'), local('b'), local('c')], withSeqNum))
    const result = mergeUpstream(state, [upstream('a', 1), upstream('F', 2), upstream('b', 3)], withSeqNum)
    if (result.type !== 'merged') throw new Error(result.reason)
    expect(result.confirmed.map(show)).toEqual(['a@e1'])
    expect(result.rollback.map(show)).toEqual(['b@e2', 'c@e3'])
    expect(result.apply.map(show)).toEqual(['F@e2', 'b@e3'])
    expect(result.replay.map(show)).toEqual(['c@e4r1'])
  })
})

describe('dropPending', () => {
  it('rolls back every pending event and replays the others renumbered under the next generation', () => {
    let state = initialSyncState<Ev>(2)
    ;({ state } = addLocal(state, [local('a'), local('b'), local('c')], withSeqNum))
    const result = dropPending(state, 'b', withSeqNum)!
    expect({ rollback: result.rollback.map(show), apply: result.apply, replay: result.replay.map(show) }).toEqual({
      rollback: ['a@e3', 'b@e4', 'c@e5'], // 1. undo all of them, last first
      apply: [], // 2. nothing arrived
      replay: ['a@e3r1', 'c@e4r1'], // 3. redo the others: c takes b's number
    })
    expect(result.state.upstreamHead).toBe(2)
    checkSyncState(result.state)
  })

  it('is undefined for an event that is not pending', () => {
    const { state } = addLocal(initialSyncState<Ev>(0), [local('a')], withSeqNum)
    expect(dropPending(state, 'zzz', withSeqNum)).toBeUndefined()
  })

  it('keeps the invariants and the order of the others, whichever event goes (property)', () => {
    fc.assert(
      fc.property(fc.nat(5), fc.integer({ min: 1, max: 8 }), fc.nat(7), fc.nat(3), (head, n, pick, generation) => {
        let state = initialSyncState<Ev>(head, [], generation)
        ;({ state } = addLocal(
          state,
          Array.from({ length: n }, (_, k) => local(`p${k}`)),
          withSeqNum,
        ))
        const gone = `p${pick % n}`
        const result = dropPending(state, gone, withSeqNum)!
        checkSyncState(result.state)
        expect(result.state.pending.map((e) => e.eventId)).toEqual(state.pending.map((e) => e.eventId).filter((id) => id !== gone))
        expect(result.state.rebaseGeneration).toBe(state.rebaseGeneration + 1)
      }),
    )
  })
})

describe('confirmPrefix', () => {
  it('confirms the first n pending events without renumbering the rest', () => {
    let state = initialSyncState<Ev>(0)
    ;({ state } = addLocal(state, [local('a'), local('b')], withSeqNum))
    state = confirmPrefix(state, 1)
    expect(state.upstreamHead).toBe(1)
    expect(state.pending.map(show)).toEqual(['b@e2'])
    checkSyncState(state)
  })
})

/**
 * Model-based: one client against a model server. The client's "materialized" list simulates its
 * database by following the merge's actions literally (undo rollback from the tail, apply, replay);
 * after every step it must equal the server's confirmed prefix followed by the client's pending
 * events, and the invariants must hold.
 */
describe('mergeUpstream (model-based)', () => {
  type Cmd =
    | { kind: 'commit'; n: number }
    | { kind: 'foreign'; n: number }
    | { kind: 'accept'; n: number } // the server orders the next n of our pushed events
    | { kind: 'deliver'; back: number; n: number } // deliver from upstreamHead - back, n events
    | { kind: 'gap' }

  const cmd: fc.Arbitrary<Cmd> = fc.oneof(
    fc.record({ kind: fc.constant('commit' as const), n: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ kind: fc.constant('foreign' as const), n: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ kind: fc.constant('accept' as const), n: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ kind: fc.constant('deliver' as const), back: fc.integer({ min: 0, max: 2 }), n: fc.integer({ min: 1, max: 5 }) }),
    fc.record({ kind: fc.constant('gap' as const) }),
  )

  it('keeps the invariants and converges to the server log', () => {
    fc.assert(
      fc.property(fc.array(cmd, { maxLength: 60 }), (cmds) => {
        const server: string[] = []
        const committed: string[] = [] // our events in commit order
        let state: SyncState<Ev> = initialSyncState<Ev>()
        let materialized: string[] = []
        let next = 0
        let foreignNext = 0
        const merge = (events: Ev[]) => {
          const before = state
          const result = mergeUpstream(state, events, withSeqNum)
          if (result.type === 'rejected') {
            expect(result.state).toBe(before)
            return
          }
          expect(result.state.upstreamHead).toBeGreaterThanOrEqual(before.upstreamHead)
          const undo = result.rollback.map((e) => e.eventId)
          expect(materialized.slice(materialized.length - undo.length)).toEqual(undo)
          materialized = materialized.slice(0, materialized.length - undo.length)
          materialized.push(...result.apply.map((e) => e.eventId), ...result.replay.map((e) => e.eventId))
          state = result.state
        }
        for (const c of cmds) {
          if (c.kind === 'commit') {
            const events = Array.from({ length: c.n }, () => local(`a${next++}`))
            ;({ state } = addLocal(state, events, withSeqNum))
            committed.push(...events.map((e) => e.eventId))
            materialized.push(...events.map((e) => e.eventId))
          } else if (c.kind === 'foreign') {
            for (let i = 0; i < c.n; i++) server.push(`f${foreignNext++}`)
          } else if (c.kind === 'accept') {
            const unordered = committed.filter((id) => !server.includes(id))
            server.push(...unordered.slice(0, c.n))
          } else if (c.kind === 'deliver') {
            const from = Math.max(0, state.upstreamHead - c.back)
            merge(server.slice(from, from + c.n).map((id, i) => upstream(id, from + i + 1)))
          } else {
            const from = state.upstreamHead + 1
            if (server.length > from) merge([upstream(server[from]!, from + 1)])
          }
          checkSyncState(state)
          expect(materialized).toEqual([...server.slice(0, state.upstreamHead), ...state.pending.map((e) => e.eventId)])
          expect(state.pending.map((e) => e.eventId)).toEqual(committed.filter((id) => !server.slice(0, state.upstreamHead).includes(id)))
        }
        // heal: the server orders everything, then delivers it all
        server.push(...committed.filter((id) => !server.includes(id)))
        merge(server.map((id, i) => upstream(id, i + 1)))
        expect(state.pending).toEqual([])
        expect(materialized).toEqual(server)
      }),
      { numRuns: 300 },
    )
  })
})
