import { DEFAULT_SYNC_LIMITS, SyncError, type PushAck, type ServerEvent, type SyncLimits, type WireEvent } from '../sync/backend.ts'

/**
 * The server half of the in-memory sync backend: per store, a gap-free log from 1, a backendId,
 * and per client the last producerSeq, with exactly the append rules of the real server:
 * - a re-sent event (same clientId, producerSeq and eventId) is not stored again; its earlier
 *   number is returned;
 * - the same producerSeq with another eventId means two clients share an id: `ClientIdCollision`;
 * - a producerSeq past the next one: `ProducerGap { expected }`;
 * - a push is all or nothing.
 */
export class MemorySyncStore {
  readonly log: ServerEvent[] = []
  readonly backendId: string
  private readonly producers = new Map<string, { last: number; seqs: Map<number, number> }>()

  constructor(backendId: string) {
    this.backendId = backendId
  }

  get head(): number {
    return this.log.length
  }

  append(events: readonly WireEvent[], limits: SyncLimits): PushAck {
    if (events.length === 0 || events.length > limits.maxEventsPerPush) {
      throw new SyncError('TooLarge', `A push carries 1..${limits.maxEventsPerPush} events; this one had ${events.length}.`)
    }
    const assigned: number[] = []
    const fresh: ServerEvent[] = []
    const next = new Map<string, number>()
    for (const [index, e] of events.entries()) {
      const size = JSON.stringify(e.args ?? null).length
      if (size > limits.maxEventBytes) {
        throw new SyncError('Invalid', `Event ${index} (${e.name}) is ${size} bytes; the limit is ${limits.maxEventBytes}.`, {
          index,
          reason: 'too large',
        })
      }
      const producer = this.producers.get(e.clientId)
      const last = next.get(e.clientId) ?? producer?.last ?? 0
      if (e.producerSeq <= last) {
        const seq = producer?.seqs.get(e.producerSeq)
        const stored = seq === undefined ? undefined : this.log[seq - 1]
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
      const seq = this.log.length + fresh.length + 1
      fresh.push({ ...e, seq })
      assigned.push(seq)
    }
    for (const e of fresh) {
      this.log.push(e)
      let producer = this.producers.get(e.clientId)
      if (producer === undefined) {
        producer = { last: 0, seqs: new Map() }
        this.producers.set(e.clientId, producer)
      }
      producer.last = e.producerSeq
      producer.seqs.set(e.producerSeq, e.seq)
    }
    return { assigned }
  }

  /** Events after `cursor`, one page: pages end at multiples of `pageSize`, so identical requests get identical pages. */
  page(cursor: number, pageSize: number): { events: ServerEvent[]; remaining: number } {
    const end = Math.min(this.log.length, (Math.floor(cursor / pageSize) + 1) * pageSize)
    const events = this.log.slice(cursor, end)
    return { events, remaining: this.log.length - end }
  }
}

export function resolveLimits(limits: Partial<SyncLimits> | undefined): SyncLimits {
  return { ...DEFAULT_SYNC_LIMITS, ...limits }
}
