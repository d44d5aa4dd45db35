import { CairnError } from '../errors.ts'
import type { SeqNum } from '../events/seq-num.ts'

/**
 * The merge/rebase logic of sync, as pure functions: (state, incoming) → (new state, what to do).
 * The leader and every session run the same functions; the processors around them do the I/O
 * (the leader rewrites its log, a session undoes and replays changesets).
 *
 *   upstream:  e1 ─ e2 ─ e3(B) ─ e4(A)          ← the server's order, final
 *   pending:             └ e3'(A) ─ e4'(A)     ← ours, provisional, chained after upstreamHead
 *
 * When upstream events arrive, the pending events they confirm in order (a prefix, matched by
 * eventId) simply become confirmed. Past the first divergence the rest of pending is rolled
 * back (undone in reverse order), the incoming events are applied, and the pending events the
 * server has not ordered yet are replayed on top with new numbers and `rebaseGeneration + 1`.
 *
 * Invariants (checked by `checkSyncState`, property-tested in sync-state.test.ts):
 * - pending is strictly ascending and chained: pending[k] is `e(upstreamHead + 1 + k)` with the
 *   state's rebaseGeneration;
 * - heads never move backwards: upstreamHead only grows, and a merge never lowers the local head
 *   below the new upstream head (upstream head ≤ local head);
 * - nothing is materialized twice: every eventId is either confirmed or pending, never both, and
 *   events at or below upstreamHead (re-deliveries) are ignored;
 * - incoming events must continue the upstream log without a gap, or the merge is refused and the
 *   state is unchanged (the processor re-pulls from its cursor).
 * Client-only events never enter this state: they are numbered after the upstream head at once
 * and are final, since they write only client-only tables and cannot conflict with anything.
 */

/** What the sync state needs of an event. */
export interface Sequenced {
  readonly eventId: string
  readonly seqNum: SeqNum
}

export interface SyncState<E extends Sequenced> {
  /** The last global number confirmed by the server (the pull cursor). */
  readonly upstreamHead: number
  /** Our events the server has not ordered yet, in commit order. */
  readonly pending: readonly E[]
  readonly rebaseGeneration: number
}

export type MergeResult<E extends Sequenced> =
  | {
      readonly type: 'merged'
      readonly state: SyncState<E>
      /** Pending events confirmed where they stood: nothing to redo. */
      readonly confirmed: readonly E[]
      /** Pending events to undo, in commit order (undo them last first). Empty unless rebasing. */
      readonly rollback: readonly E[]
      /** Incoming events to materialize, in order (foreign ones and our own that were rolled back). */
      readonly apply: readonly E[]
      /** Pending events to redo on top, renumbered. */
      readonly replay: readonly E[]
    }
  | { readonly type: 'rejected'; readonly state: SyncState<E>; readonly reason: string; readonly expected: number }

/** Renumbers an event; the processors pass their own record constructor. */
export type WithSeqNum<E> = (event: E, seqNum: SeqNum) => E

export function initialSyncState<E extends Sequenced>(upstreamHead = 0, pending: readonly E[] = [], rebaseGeneration = 0): SyncState<E> {
  return { upstreamHead, pending, rebaseGeneration }
}

/** The number the next synced local event gets. */
export function nextPendingSeqNum(state: SyncState<Sequenced>): SeqNum {
  return { global: state.upstreamHead + state.pending.length + 1, client: 0, rebaseGeneration: state.rebaseGeneration }
}

/** Head of the local log: the last pending event, or the upstream head. */
export function localHeadGlobal(state: SyncState<Sequenced>): number {
  return state.upstreamHead + state.pending.length
}

/**
 * Appends local synced events to pending, numbering them after the local head. A later
 * generation carried by an event (a session that rebased before telling us) is adopted, so the
 * leader and its session agree on the numbers.
 */
export function addLocal<E extends Sequenced>(
  state: SyncState<E>,
  events: readonly E[],
  withSeqNum: WithSeqNum<E>,
): { state: SyncState<E>; numbered: E[] } {
  let generation = state.rebaseGeneration
  for (const e of events) generation = Math.max(generation, e.seqNum.rebaseGeneration)
  let pending: readonly E[] = state.pending
  if (generation !== state.rebaseGeneration) pending = renumber(pending, state.upstreamHead + 1, generation, withSeqNum)
  const numbered = renumber(events, state.upstreamHead + pending.length + 1, generation, withSeqNum)
  return { state: { upstreamHead: state.upstreamHead, pending: [...pending, ...numbered], rebaseGeneration: generation }, numbered }
}

/**
 * Merges events that arrived from upstream (each with its final global number in
 * `seqNum.global`). Re-deliveries at or below the upstream head are ignored; a gap or an
 * unordered batch is rejected with the state unchanged.
 */
export function mergeUpstream<E extends Sequenced>(state: SyncState<E>, incoming: readonly E[], withSeqNum: WithSeqNum<E>): MergeResult<E> {
  let start = 0
  while (start < incoming.length && incoming[start]!.seqNum.global <= state.upstreamHead) start++
  const fresh = start === 0 ? incoming : incoming.slice(start)
  for (let k = 0; k < fresh.length; k++) {
    const expected = state.upstreamHead + 1 + k
    if (fresh[k]!.seqNum.global !== expected) {
      return {
        type: 'rejected',
        state,
        expected,
        reason: `upstream event ${fresh[k]!.eventId} has number ${fresh[k]!.seqNum.global} where ${expected} was expected`,
      }
    }
  }
  if (fresh.length === 0) return { type: 'merged', state, confirmed: [], rollback: [], apply: [], replay: [] }

  const pending = state.pending
  let prefix = 0
  while (prefix < fresh.length && prefix < pending.length && fresh[prefix]!.eventId === pending[prefix]!.eventId) prefix++
  const upstreamHead = fresh[fresh.length - 1]!.seqNum.global
  const confirmed = prefix === 0 ? [] : fresh.slice(0, prefix)

  if (prefix === fresh.length || prefix === pending.length) {
    // Fast-forward: either everything that arrived was ours, in our order (the rest of pending
    // keeps its numbers, which already follow), or nothing of ours is left to move.
    const rest = pending.slice(prefix)
    return {
      type: 'merged',
      state: { upstreamHead, pending: rest, rebaseGeneration: state.rebaseGeneration },
      confirmed,
      rollback: [],
      apply: fresh.slice(prefix),
      replay: [],
    }
  }

  const rollback = pending.slice(prefix)
  const apply = fresh.slice(prefix)
  const arrived = new Set(apply.map((e) => e.eventId))
  const rebaseGeneration = state.rebaseGeneration + 1
  const replay = renumber(
    rollback.filter((e) => !arrived.has(e.eventId)),
    upstreamHead + 1,
    rebaseGeneration,
    withSeqNum,
  )
  return { type: 'merged', state: { upstreamHead, pending: replay, rebaseGeneration }, confirmed, rollback, apply, replay }
}

/**
 * Takes one event out of pending (the server refused it for good and the app dropped it): every
 * pending event is rolled back and the others are replayed in order, renumbered under the next
 * rebase generation (the dropped one's number now belongs to the event after it). Shaped as a
 * merge with nothing incoming, so the processors reuse their rebase. Undefined when the event
 * is not pending (confirmed meanwhile, dropped already, or never ours).
 */
export function dropPending<E extends Sequenced>(
  state: SyncState<E>,
  eventId: string,
  withSeqNum: WithSeqNum<E>,
): Extract<MergeResult<E>, { type: 'merged' }> | undefined {
  const index = state.pending.findIndex((e) => e.eventId === eventId)
  if (index < 0) return undefined
  const rebaseGeneration = state.rebaseGeneration + 1
  const kept = state.pending.filter((_, k) => k !== index)
  const replay = renumber(kept, state.upstreamHead + 1, rebaseGeneration, withSeqNum)
  return {
    type: 'merged',
    state: { upstreamHead: state.upstreamHead, pending: replay, rebaseGeneration },
    confirmed: [],
    rollback: state.pending,
    apply: [],
    replay,
  }
}

/**
 * Drops the first `n` pending events as confirmed by an authority that orders exactly what it
 * was given (the leader without a sync backend): a fast-forward without events travelling.
 */
export function confirmPrefix<E extends Sequenced>(state: SyncState<E>, n: number): SyncState<E> {
  if (n === 0) return state
  return { upstreamHead: state.upstreamHead + n, pending: state.pending.slice(n), rebaseGeneration: state.rebaseGeneration }
}

/** @internal Throws when an invariant of the header comment does not hold (tests and debug checks). */
export function checkSyncState(state: SyncState<Sequenced>): void {
  const ids = new Set<string>()
  state.pending.forEach((e, k) => {
    const expected = state.upstreamHead + 1 + k
    if (e.seqNum.global !== expected || e.seqNum.client !== 0 || e.seqNum.rebaseGeneration !== state.rebaseGeneration) {
      throw new CairnError(
        'SyncStateInvariant',
        `pending[${k}] (${e.eventId}) is e${e.seqNum.global}.${e.seqNum.client}r${e.seqNum.rebaseGeneration}, expected e${expected}r${state.rebaseGeneration}`,
      )
    }
    if (ids.has(e.eventId)) throw new CairnError('SyncStateInvariant', `event ${e.eventId} is pending twice`)
    ids.add(e.eventId)
  })
}

function renumber<E extends Sequenced>(
  events: readonly E[],
  firstGlobal: number,
  rebaseGeneration: number,
  withSeqNum: WithSeqNum<E>,
): E[] {
  return events.map((e, k) => {
    const global = firstGlobal + k
    const s = e.seqNum
    return s.global === global && s.client === 0 && s.rebaseGeneration === rebaseGeneration
      ? e
      : withSeqNum(e, { global, client: 0, rebaseGeneration })
  })
}
