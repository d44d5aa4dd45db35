import {
  DEFAULT_SYNC_LIMITS,
  SyncError,
  utf8Length,
  type PushAck,
  type ServerEvent,
  type SyncLimits,
  type WireEvent,
} from '../sync/backend.ts'
import { pageEnd, planAppend, type ProducerLookup } from '../sync/plan-append.ts'

/**
 * The server half of the in-memory sync backend: per store, a gap-free log from 1, a backendId,
 * and per client the last producerSeq, with the append rules of every server storage
 * (`planAppend`).
 */
export class MemorySyncStore {
  readonly log: ServerEvent[] = []
  readonly backendId: string
  private readonly producers = new Map<string, { last: number; seqs: Map<number, number> }>()
  private readonly lookup: ProducerLookup = {
    last: (clientId) => this.producers.get(clientId)?.last ?? 0,
    stored: (clientId, producerSeq) => {
      const seq = this.producers.get(clientId)?.seqs.get(producerSeq)
      return seq === undefined ? undefined : this.log[seq - 1]
    },
  }

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
    for (const [index, e] of events.entries()) {
      const size = utf8Length(JSON.stringify(e.args ?? null))
      if (size > limits.maxEventBytes) {
        throw new SyncError('Invalid', `Event ${index} (${e.name}) is ${size} bytes; the limit is ${limits.maxEventBytes}.`, {
          index,
          reason: 'too large',
        })
      }
    }
    const { assigned, fresh } = planAppend(events, this.log.length, this.lookup, undefined)
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
    const end = pageEnd(cursor, pageSize, this.log.length)
    const events = this.log.slice(cursor, end)
    return { events, remaining: this.log.length - end }
  }
}

export function resolveLimits(limits: Partial<SyncLimits> | undefined): SyncLimits {
  return { ...DEFAULT_SYNC_LIMITS, ...limits }
}
