import { CairnError } from '../errors.ts'
import type { EventRecord } from '../events/record.ts'
import { compareSeqNum, type SeqNum } from '../events/seq-num.ts'
import { withSeqNum } from '../events/record.ts'
import { dropPending, mergeUpstream } from '../sync/sync-state.ts'
import { loggedAfterMerge } from './leader-pending.ts'
import { resolveConfirmed } from './outbox.ts'
import { resync } from './resync.ts'
import type { Session } from './session.ts'

// Events whose order is final reach the session: it confirms its own, or undoes what diverged
// (the recorded changesets of its undo log) and replays its pending events on top.

type Merged = Extract<ReturnType<typeof mergeUpstream<EventRecord>>, { type: 'merged' }>

/**
 * Events whose order is final arrived: confirm ours that they match, or roll back what
 * diverged, apply them, and replay our pending events on top (see sync-state.ts). One
 * transaction, then one refresh of the tables that changed.
 */
export function receiveUpstream(s: Session, incoming: readonly EventRecord[]): void {
  const result = mergeUpstream(s.sync, incoming, withSeqNum)
  if (result.type === 'rejected') {
    s.reportError(new CairnError('SyncOutOfOrder', `The leader sent events out of order: ${result.reason}.`))
    return
  }
  if (result.state === s.sync) return
  // our state now holds events the leader materialized in another order or batch
  if (result.rollback.length > 0 || result.apply.length > 0) s.stateToken = null
  const touched = new Set<string>()
  const confirmedById = () => new Map(result.confirmed.map((e) => [e.eventId, e]))
  if (result.rollback.length === 0) {
    markDone(s, result.confirmed)
    if (result.apply.length > 0) {
      const recorded = s.record(() => s.applyAll(result.apply))
      for (const t of recorded.tables) touched.add(t)
    }
  } else if (!rollBack(s, result, confirmedById(), touched)) return
  afterUpstream(s, result, touched)
}

/**
 * The leader dropped one of the pending events (the server refused it, the app chose to drop
 * it): undo every pending event and replay the others without it, as a rebase with nothing
 * incoming. A session that does not hold it changes nothing. Its commit's `confirmed` rejects.
 */
export function dropEvent(s: Session, eventId: string): void {
  const result = dropPending(s.sync, eventId, withSeqNum)
  if (result === undefined) {
    s.statusVersion.value++
    return
  }
  s.stateToken = null
  // the commit's `confirmed` waits on its last synced event: the last record of its undo entry
  const entry = s.undo.find((u) => u.records.some((r) => r.eventId === eventId))
  const key = entry?.records[entry.records.length - 1]?.eventId ?? eventId
  const waiter = s.confirmWaiters.get(key) ?? s.confirmWaiters.get(eventId)
  if (waiter !== undefined) {
    s.confirmWaiters.delete(key)
    s.confirmWaiters.delete(eventId)
    waiter.reject(
      new CairnError('EventDropped', `Event ${eventId} was refused by the sync server and dropped by the app; it will never be confirmed.`),
    )
  }
  const touched = new Set<string>()
  if (!rollBack(s, result, new Map(), touched)) return
  afterUpstream(s, result, touched)
}

/**
 * Undoes the pending events from the first rolled-back one and applies `result` on top (see
 * `rebase`); false when the session reloads from the leader instead (no recorded undo, or an
 * undo that no longer fits).
 */
function rollBack(s: Session, result: Merged, confirmedById: ReadonlyMap<string, EventRecord>, touched: Set<string>): boolean {
  const firstRolledBack = result.rollback[0]!.eventId
  const from = s.undo.findIndex((u) => u.records.some((r) => r.eventId === firstRolledBack))
  if (from < 0 || s.undo.slice(from).some((u) => u.changeset === undefined)) {
    resync(s)
    return false
  }
  const undoBefore = [...s.undo]
  try {
    s.withPendingArgs(() => rebase(s, from, firstRolledBack, confirmedById, result, touched))
  } catch (e) {
    // The recorded undo no longer fits this session's state (a materializer that is not
    // deterministic, or state written behind the store's back). The transaction left the
    // state as it was; reload the leader's state instead of guessing.
    s.undo.splice(0, s.undo.length, ...undoBefore)
    resync(s, e)
    return false
  }
  return true
}

function rebase(
  s: Session,
  from: number,
  firstRolledBack: string,
  confirmedById: ReadonlyMap<string, EventRecord>,
  result: Merged,
  touched: Set<string>,
): void {
  s.db.transaction(() => {
    const reverted = s.undo.splice(from)
    s.db.revertAll(reverted.flatMap((entry) => (entry.changeset == null ? [] : [entry.changeset])))
    for (const entry of reverted) for (const t of entry.tables) touched.add(t)
    // the first undone entry may hold confirmed events before the divergence: they come back first
    const head = reverted[0]!
    const redo = head.records
      .slice(
        0,
        head.records.findIndex((r) => r.eventId === firstRolledBack),
      )
      .map((r) => confirmedById.get(r.eventId) ?? r)
    const applied = s.db.recordChanges(() => s.applyAll([...redo, ...result.apply]))
    for (const t of applied.tables) touched.add(t)
    s.undo.length = 0
    if (result.replay.length > 0) {
      const replayed = s.db.recordChanges(() => s.applyAll(result.replay))
      for (const t of replayed.tables) touched.add(t)
      s.undo.push({ records: [...result.replay], changeset: replayed.changeset, tables: replayed.tables, done: 0 })
    }
  })
}

function afterUpstream(s: Session, result: Merged, touched: Set<string>): void {
  s.leaderLogged = loggedAfterMerge(s.sync.pending, s.leaderLogged, result.state.pending)
  s.sync = result.state
  const last = s.sync.pending[s.sync.pending.length - 1]
  const upstream: SeqNum = { global: s.sync.upstreamHead, client: 0, rebaseGeneration: 0 }
  s.localHead = last !== undefined ? last.seqNum : compareSeqNum(s.localHead, upstream) > 0 ? s.localHead : upstream
  resolveConfirmed(s, [result.confirmed, result.apply])
  s.graph.bump(touched)
  s.statusVersion.value++
}

/** Confirmed in place: undo entries whose events are all confirmed are dropped (never undone). */
function markDone(s: Session, confirmed: readonly EventRecord[]): void {
  let remaining = confirmed.length
  // The confirmed events are the oldest pending ones, in order, so they match the undo records
  // one by one; by eventId (a map of them all) only if not.
  let next = 0
  let byId: ReadonlyMap<string, EventRecord> | undefined
  // the finished entries go in one splice: a shift each was quadratic (50,000 single commits
  // made in one loop spent ~0.9 s here)
  let finished = 0
  while (remaining > 0 && finished < s.undo.length) {
    const entry = s.undo[finished]!
    while (entry.done < entry.records.length && remaining > 0) {
      const record = entry.records[entry.done]!
      let final: EventRecord | undefined
      if (byId === undefined && confirmed[next]?.eventId === record.eventId) final = confirmed[next++]
      else final = (byId ??= new Map(confirmed.map((e) => [e.eventId, e]))).get(record.eventId)
      if (final === undefined) break
      entry.records[entry.done] = final
      entry.done++
      remaining--
    }
    if (entry.done === entry.records.length) finished++
    else break
  }
  if (finished > 0) s.undo.splice(0, finished)
}
