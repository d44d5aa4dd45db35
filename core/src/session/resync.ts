import { CairnError } from '../errors.ts'
import { withSeqNum, type EventRecord } from '../events/record.ts'
import { INTERNAL_TABLES, type SessionBoot } from '../leader/leader.ts'
import { addLocal, initialSyncState } from '../sync/sync-state.ts'
import { scheduleFlush } from './outbox.ts'
import type { Session } from './session.ts'

/**
 * Reloads a session from the leader: its state snapshot and pending events, then the events
 * this session committed since (still in the outbox, held back meanwhile). Upstream messages
 * that arrive in between are held and handled afterwards (re-deliveries are ignored).
 */
export function resync(s: Session, cause?: unknown): void {
  if (s.resyncing !== undefined) return
  if (cause !== undefined)
    s.reportError(
      new CairnError(
        'SessionResync',
        `This session's state no longer matched its recorded changes while rebasing (${(cause as Error)?.message ?? cause}); it reloads the leader's state. No event is lost.`,
        { cause },
      ),
    )
  s.resyncing = (async () => {
    try {
      await s.flushing // what was already handed to the leader is in its snapshot
      const boot = await s.leader.boot()
      if (s.shutdownReason === undefined) s.withPendingArgs(() => reloadFrom(s, boot))
    } catch (e) {
      s.reportError(e)
    } finally {
      s.resyncing = undefined
      const held = s.held
      s.held = []
      for (const message of held) s.hooks.deliver(message)
      if (s.outbox.length > 0) scheduleFlush(s)
    }
  })()
}

function reloadFrom(s: Session, boot: SessionBoot): void {
  const local = s.outbox.flatMap((entry) => entry.records)
  s.db.load(boot.snapshot)
  for (const table of INTERNAL_TABLES) s.db.exec(`DROP TABLE IF EXISTS ${table}`)
  s.leaderStatus = boot.status
  s.clientOnlyHead = boot.clientOnlyHead
  const { state, numbered } = addLocal<EventRecord>(
    initialSyncState(boot.upstreamHead, boot.pending, boot.rebaseGeneration),
    local.filter((r) => !r.clientOnly),
    withSeqNum,
  )
  s.sync = state
  s.leaderLogged = boot.pending.length
  s.undo.length = 0
  // exactly the leader's state (nothing re-applied on top): our commits can name it again as their base
  s.stateToken = boot.pending.length === 0 && local.length === 0 ? (boot.stateToken ?? null) : null
  const synced = [...boot.pending, ...numbered]
  if (synced.length > 0) {
    const recorded = s.record(() => s.applyAll(synced))
    s.undo.push({ records: synced, changeset: recorded.changeset, tables: recorded.tables, done: 0 })
  }
  // client-only events are final (never undone) and write only client-only tables, so they
  // commute with the synced ones
  const clientOnly = local.filter((r) => r.clientOnly)
  if (clientOnly.length > 0) s.applyAll(clientOnly)
  const last = s.sync.pending[s.sync.pending.length - 1]
  s.localHead = last !== undefined ? last.seqNum : boot.head
  s.graph.bump(s.db.selectColumn("SELECT name FROM sqlite_schema WHERE type = 'table'") as string[])
  s.statusVersion.value++
}
