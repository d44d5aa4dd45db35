import { CairnError } from '../errors.ts'
import type { EventRecord } from '../events/record.ts'
import type { CommitHint } from '../leader/leader.ts'
import { Outcome } from './outcome.ts'
import type { Session } from './session.ts'

// The outbox to the leader: commits wait here (already applied in the session) until the
// leader has stored them; `handle.confirmed` waits for the final order.

/** Puts a commit's records in the outbox; returns its `persisted` and `confirmed` outcomes. */
export function enqueue(
  s: Session,
  records: readonly EventRecord[],
  lastSyncedId: string | undefined,
  hint: CommitHint,
): { persisted: Outcome; confirmed: Outcome } {
  const persisted = new Outcome()
  let confirmed = persisted
  if (lastSyncedId !== undefined) s.confirmWaiters.set(lastSyncedId, (confirmed = new Outcome()))
  if (records.length > 0) {
    s.outbox.push({ records, hint, persisted })
    scheduleFlush(s)
  } else persisted.resolve()
  return { persisted, confirmed }
}

/** Resolves the `confirmed` waiters of the commits whose last synced event is in `lists`. */
export function resolveConfirmed(s: Session, lists: readonly (readonly EventRecord[])[]): void {
  const waiters = s.confirmWaiters
  for (const list of lists) {
    for (let i = 0; i < list.length && waiters.size > 0; i++) {
      const waiter = waiters.get(list[i]!.eventId)
      if (waiter !== undefined) {
        waiters.delete(list[i]!.eventId)
        waiter.resolve()
      }
    }
  }
}

export function scheduleFlush(s: Session): void {
  if (s.flushScheduled) return
  s.flushScheduled = true
  queueMicrotask(() => {
    s.flushScheduled = false
    // while reloading, new commits wait: the reload applies them on top of the leader's snapshot
    if (s.resyncing === undefined) void drain(s)
  })
}

/**
 * The most events one append carries (a single commit larger than this still goes alone, and
 * whole). Commits made while the leader works go together in one transaction; without a bound,
 * 100,000 events committed in one loop made one transaction larger than SQLite's page cache,
 * which spilled and re-read pages: 38,000 events/s on the Node adapter where appends of at most
 * 5,000 did 106,000.
 */
export const MAX_APPEND_EVENTS = 5_000

/** Takes the oldest commits of the outbox, up to MAX_APPEND_EVENTS events (at least one commit). */
function nextBatch(s: Session): Session['outbox'] {
  const outbox = s.outbox
  let take = 0
  let events = 0
  while (take < outbox.length && (take === 0 || events + outbox[take]!.records.length <= MAX_APPEND_EVENTS)) {
    events += outbox[take]!.records.length
    take++
  }
  if (take === outbox.length) {
    s.outbox = []
    return outbox
  }
  s.outbox = outbox.slice(take)
  return outbox.slice(0, take)
}

/** Sends the outbox to the leader, one batch at a time, until it is empty. */
export function drain(s: Session): Promise<void> {
  // nothing to send: the loop below would not await, and its finally would clear `flushing`
  // before the assignment stored the finished promise for good (no later drain would run)
  if (s.flushing === undefined && (s.outbox.length === 0 || s.resyncing !== undefined)) return Promise.resolve()
  s.flushing ??= (async () => {
    try {
      // a reload (resync) takes what is left: it must not reach the leader before the snapshot
      while (s.outbox.length > 0 && s.resyncing === undefined) {
        const batch = nextBatch(s)
        const records = batch.flatMap((b) => b.records)
        try {
          const result = await s.leader.append(
            records,
            batch.map((b) => b.hint),
          )
          s.clientOnlyUnpersisted -= records.filter((r) => r.clientOnly).length
          s.statusVersion.value++
          for (const f of result.failures) s.reportError(f.error)
          for (const b of batch) b.persisted.resolve()
        } catch (e) {
          s.stateToken = null
          const error = new CairnError(
            'LeaderWriteFailed',
            `The leader could not store ${records.length} event(s): ${(e as Error)?.message ?? e}. This session reloads the leader's state without them.`,
            { cause: e },
          )
          s.reportError(error)
          s.clientOnlyUnpersisted -= records.filter((r) => r.clientOnly).length
          for (const b of batch) b.persisted.reject(error)
          for (const r of records) {
            const waiter = s.confirmWaiters.get(r.eventId)
            if (waiter === undefined) continue
            s.confirmWaiters.delete(r.eventId)
            waiter.reject(error)
          }
          // the session holds events its leader does not: nothing would ever confirm them
          if (s.shutdownReason === undefined) s.hooks.resync()
        }
      }
    } finally {
      s.flushing = undefined
    }
  })()
  return s.flushing
}
