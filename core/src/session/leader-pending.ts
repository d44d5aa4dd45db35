import { withSeqNum, type EventRecord } from '../events/record.ts'
import { compareSeqNum } from '../events/seq-num.ts'
import type { SyncState } from '../sync/sync-state.ts'
import { resync } from './resync.ts'
import type { Session } from './session.ts'

// Pending events of the other sessions of our leader (other tabs): the leader announces each
// batch it logs as pending, so every session shows a commit at once, not only once the server
// ordered it. A session's pending list is then the leader's pending log (its first
// `s.leaderLogged` events, in the leader's order) followed by its own events still on their way
// to the leader. A batch of someone else's events lands after the logged part: our own unlogged
// events move behind it (undone and replayed, as a rebase does), so every session of the
// client holds the leader's order and the server's answer confirms the same prefix everywhere.

/**
 * Takes a batch the leader logged as pending (`events` continue its pending log, numbered after
 * `upstreamHead`). Our own events in it are already applied here (the batch only says they are
 * logged); others' are applied, and our unlogged events replayed after them.
 */
export function receivePending(s: Session, events: readonly EventRecord[]): void {
  const logged = s.sync.upstreamHead + s.leaderLogged
  // re-deliveries: a batch our boot snapshot (or an earlier reload) holds already. Events only
  // ever move to later numbers (foreign events get in before them), so a stale batch's numbers
  // are never past what we know.
  let from = 0
  while (from < events.length && events[from]!.seqNum.global <= logged) from++
  if (from === events.length) return
  for (let k = from; k < events.length; k++) {
    if (events[k]!.seqNum.global !== logged + 1 + k - from) {
      // a batch went missing (a leader change, a catch-up on the way): reload from the leader
      resync(s)
      return
    }
  }
  const pending = s.sync.pending
  const known = s.leaderLogged
  const count = events.length - from
  // the common case: the batch is our own next events, in our order (one tab, or our turn)
  let same = 0
  while (same < count && known + same < pending.length && pending[known + same]!.eventId === events[from + same]!.eventId) same++
  if (same === count) {
    s.leaderLogged += count
    adoptGeneration(s, events[events.length - 1]!.seqNum.rebaseGeneration)
    return
  }
  // someone else's events are in the batch: the leader's order, then our events it has not logged
  const ours = new Map<string, EventRecord>()
  for (let k = known; k < pending.length; k++) ours.set(pending[k]!.eventId, pending[k]!)
  const next: EventRecord[] = pending.slice(0, known)
  for (let k = from; k < events.length; k++) {
    const e = events[k]!
    const own = ours.get(e.eventId)
    next.push(own === undefined ? e : own)
    ours.delete(e.eventId)
  }
  for (const e of ours.values()) next.push(e)
  let generation = s.sync.rebaseGeneration
  for (let k = from; k < events.length; k++) generation = Math.max(generation, events[k]!.seqNum.rebaseGeneration)
  const renumbered = next.map((e, k) => {
    const global = s.sync.upstreamHead + 1 + k
    const n = e.seqNum
    return n.global === global && n.client === 0 && n.rebaseGeneration === generation
      ? e
      : withSeqNum(e, { global, client: 0, rebaseGeneration: generation })
  })
  // the first place the order changed: what comes before stays applied
  const diverge = known + same
  const state: SyncState<EventRecord> = { upstreamHead: s.sync.upstreamHead, pending: renumbered, rebaseGeneration: generation }
  const undoBefore = [...s.undo]
  let touched: Set<string>
  try {
    touched = reorder(s, diverge, renumbered)
  } catch (e) {
    // the recorded undo no longer fits the state (see rebase.ts): reload the leader's state
    s.undo.splice(0, s.undo.length, ...undoBefore)
    resync(s, e)
    return
  }
  s.sync = state
  s.leaderLogged = known + count
  s.stateToken = null
  s.localHead = renumbered[renumbered.length - 1]!.seqNum
  s.graph.bump(touched)
  s.statusVersion.value++
}

/**
 * After a merge of upstream events: how many of the new pending events the leader has logged,
 * i.e. came from the logged part of `before` (a merge keeps their order and drops confirmed
 * ones, so they are still the first ones).
 */
export function loggedAfterMerge(before: readonly EventRecord[], logged: number, after: readonly EventRecord[]): number {
  if (logged === 0 || after.length === 0) return 0
  if (logged >= before.length) return after.length
  const ids = new Set<string>()
  for (let k = 0; k < logged; k++) ids.add(before[k]!.eventId)
  let n = 0
  while (n < after.length && ids.has(after[n]!.eventId)) n++
  return n
}

/**
 * Our events came back logged in another generation: renumber (nothing to re-apply) to the
 * leader's when it is later, or when the leader logged all of them (we rebased events of ours
 * it had not seen yet, so it numbered them in its own generation).
 */
function adoptGeneration(s: Session, generation: number): void {
  const all = s.leaderLogged === s.sync.pending.length
  if (generation === s.sync.rebaseGeneration || (generation < s.sync.rebaseGeneration && !all)) {
    s.statusVersion.value++
    return
  }
  const pending = s.sync.pending.map((e, k) =>
    withSeqNum(e, { global: s.sync.upstreamHead + 1 + k, client: 0, rebaseGeneration: generation }),
  )
  s.sync = { upstreamHead: s.sync.upstreamHead, pending, rebaseGeneration: generation }
  s.localHead = pending[pending.length - 1]!.seqNum
  s.statusVersion.value++
}

/**
 * Undoes the pending events from index `diverge` on (with the undo entries that hold them) and
 * applies `next` from there, in one transaction. Returns the tables that changed.
 */
function reorder(s: Session, diverge: number, next: readonly EventRecord[]): Set<string> {
  const touched = new Set<string>()
  const pending = s.sync.pending
  s.withPendingArgs(() =>
    s.db.transaction(() => {
      let redo: EventRecord[] = []
      let done = 0
      if (diverge < pending.length) {
        const first = pending[diverge]!.eventId
        const from = s.undo.findIndex((u) => u.records.some((r) => r.eventId === first))
        if (from < 0 || s.undo.slice(from).some((u) => u.changeset === undefined))
          throw new Error(`no recorded undo for pending event ${first}`)
        const reverted = s.undo.splice(from)
        s.db.revertAll(reverted.flatMap((entry) => (entry.changeset == null ? [] : [entry.changeset])))
        for (const entry of reverted) for (const t of entry.tables) touched.add(t)
        // the first undone entry may hold events before the divergence (confirmed ones too): they come back first
        const head = reverted[0]!
        const cut = head.records.findIndex((r) => r.eventId === first)
        redo = head.records.slice(0, cut)
        done = Math.min(head.done, cut)
      }
      const records = [...redo, ...next.slice(diverge)]
      const recorded = s.db.recordChanges(() => s.applyAll(records))
      for (const t of recorded.tables) touched.add(t)
      s.undo.push({ records, changeset: recorded.changeset, tables: recorded.tables, done })
    }),
  )
  return touched
}

/**
 * Takes client-only events the leader logged (final at once): those another session of this
 * client committed are applied here, so every tab shows a draft or a UI setting one tab changed.
 * They write client-only tables only, which no synced event touches, so they need no rebase of
 * our pending events. Ours, and those our snapshot holds already, are skipped.
 */
export function receiveClientOnly(s: Session, events: readonly EventRecord[]): void {
  const foreign: EventRecord[] = []
  for (const e of events) {
    if (s.clientOnlyHead !== undefined && compareSeqNum(e.seqNum, s.clientOnlyHead) <= 0) continue
    s.clientOnlyHead = e.seqNum
    if (e.sessionId !== s.sessionId) foreign.push(e)
  }
  if (foreign.length === 0) return
  const tables = s.db.recordTables(() => s.applyAll(foreign))
  s.graph.bump(tables)
}
