import { SyncError, type ServerEvent, type WireEvent } from './backend.ts'

/** What a storage tells the planner about the producers (clients) of one store. */
export interface ProducerLookup {
  /** The last producerSeq stored for `clientId` (0 if none). */
  last(clientId: string): number
  /** The stored event with that producerSeq, if any. */
  stored(clientId: string, producerSeq: number): { readonly eventId: string; readonly seq: number } | undefined
}

/** A pushed event as a sync server stores it. */
export interface PlannedEvent extends ServerEvent {
  /** Who pushed it, as the server's auth said; absent without auth. */
  readonly principal?: string
}

/**
 * Decides a push against a store at `head`, with the rules every sync server storage (and the
 * in-memory test server) shares:
 * - a re-sent event (same clientId, producerSeq and eventId) is not stored again: its earlier number is returned;
 * - the same producerSeq with another eventId means two clients share an id: `ClientIdCollision`;
 * - a producerSeq past the next one: `ProducerGap { expected }`;
 * - all or nothing: the caller stores `fresh` in one transaction, or nothing when this throws.
 *
 * @example
 * const { assigned, fresh } = planAppend(events, head, { last: (c) => lastSeq.get(c) ?? 0, stored }, principal)
 */
export function planAppend(
  events: readonly WireEvent[],
  head: number,
  producers: ProducerLookup,
  principal: string | undefined,
): { assigned: number[]; fresh: PlannedEvent[] } {
  const assigned: number[] = []
  const fresh: PlannedEvent[] = []
  const next = new Map<string, number>()
  for (const e of events) {
    const last = next.get(e.clientId) ?? producers.last(e.clientId)
    if (e.producerSeq <= last) {
      const stored =
        producers.stored(e.clientId, e.producerSeq) ?? fresh.find((f) => f.clientId === e.clientId && f.producerSeq === e.producerSeq)
      if (stored === undefined || stored.eventId !== e.eventId) {
        throw new SyncError(
          'ClientIdCollision',
          `Client id "${e.clientId}" already pushed producerSeq ${e.producerSeq} with another event; the client must pick a new id.`,
        )
      }
      assigned.push(stored.seq)
      continue
    }
    if (e.producerSeq !== last + 1) {
      throw new SyncError('ProducerGap', `Client "${e.clientId}" pushed producerSeq ${e.producerSeq}; the server expected ${last + 1}.`, {
        expected: last + 1,
      })
    }
    next.set(e.clientId, e.producerSeq)
    const seq = head + fresh.length + 1
    fresh.push({
      seq,
      eventId: e.eventId,
      producerSeq: e.producerSeq,
      name: e.name,
      args: e.args,
      clientId: e.clientId,
      sessionId: e.sessionId,
      ...(principal === undefined ? {} : { principal }),
    })
    assigned.push(seq)
  }
  return { assigned, fresh }
}

/** The end of the page that starts after `after`: the next multiple of `pageSize`, or the head. */
export function pageEnd(after: number, pageSize: number, head: number): number {
  return Math.min(head, (Math.floor(after / pageSize) + 1) * pageSize)
}
