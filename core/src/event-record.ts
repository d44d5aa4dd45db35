import type { SeqNum } from './seq-num.ts'

/** An event as it travels between session, leader and log. */
export interface EventRecord {
  readonly seqNum: SeqNum
  readonly name: string
  /** Args as JSON: exactly what is stored and replayed. */
  readonly json: string
  readonly eventId: string
  readonly clientId: string
  readonly sessionId: string
  readonly clientOnly: boolean
  /**
   * The validated args, when whoever hands the record on already has them (the session, to a
   * leader in the same process): saves a JSON parse and a validation per event. Never stored or
   * sent; `json` stays the truth. Materializers must treat args as read-only.
   */
  readonly args?: unknown
}

/** A unique event id. */
export function newEventId(): string {
  return globalThis.crypto.randomUUID()
}

const ALPHABET = 'useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict'

/** A short random id (nanoid alphabet) for clients and sessions. */
export function shortId(size = 6): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(size))
  let id = ''
  for (let i = 0; i < size; i++) id += ALPHABET[bytes[i]! & 63]
  return id
}
