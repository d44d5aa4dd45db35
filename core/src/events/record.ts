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

/**
 * `e` with another number, as a plain record. Not a spread: a session's records (LocalRecord)
 * make their JSON on demand, and a spread would leave it out.
 */
export function withSeqNum(e: EventRecord, seqNum: SeqNum): EventRecord {
  return {
    seqNum,
    name: e.name,
    json: e.json,
    eventId: e.eventId,
    clientId: e.clientId,
    sessionId: e.sessionId,
    clientOnly: e.clientOnly,
    args: e.args,
  }
}

/**
 * An event as a session's commit records it. Its JSON is the event input's, made when first
 * read: the leader reads it after the commit returned, so a large commit does not serialize its
 * args while the app waits (10% of a 10,000-event commit).
 */
export class LocalRecord implements EventRecord {
  readonly #input: { readonly json: string }

  constructor(
    readonly seqNum: SeqNum,
    readonly name: string,
    input: { readonly json: string },
    readonly eventId: string,
    readonly clientId: string,
    readonly sessionId: string,
    readonly clientOnly: boolean,
    readonly args: unknown,
  ) {
    this.#input = input
  }

  get json(): string {
    return this.#input.json
  }
}

/**
 * A unique event id: a time-ordered UUID (version 7, RFC 9562): 48 bits of Unix milliseconds,
 * a 12-bit counter for ids of the same millisecond, 62 random bits. Ids made one after another
 * sort one after another, so the eventlog's unique index on them grows at its end instead of
 * at random places (a random v4 id made inserting 10,000 events ~25% slower). Formatted here
 * from a pool of random bytes: crypto.randomUUID cost ~3 µs a call.
 */
export function newEventId(): string {
  tick()
  if (poolAt + 8 > pool.length) refill()
  const b = pool
  const i = poolAt
  poolAt += 8
  const ms = lastMs
  const high = Math.floor(ms / 0x10000) // the upper 32 of the 48 timestamp bits
  return (
    (high >>> 0).toString(16).padStart(8, '0') +
    '-' +
    HEX[(ms >>> 8) & 0xff]! +
    HEX[ms & 0xff]! +
    '-' +
    HEX[0x70 | (counter >>> 8)]! +
    HEX[counter & 0xff]! +
    '-' +
    HEX[(b[i]! & 0x3f) | 0x80]! +
    HEX[b[i + 1]!]! +
    '-' +
    HEX[b[i + 2]!]! +
    HEX[b[i + 3]!]! +
    HEX[b[i + 4]!]! +
    HEX[b[i + 5]!]! +
    HEX[b[i + 6]!]! +
    HEX[b[i + 7]!]!
  )
}

/**
 * `n` new event ids, in the order `newEventId` would make them. A large batch writes them as
 * ASCII into one buffer, decodes it once and slices it: an id built by concatenation is a tree
 * of string pieces that V8 copies into a flat string the first time it is hashed or read (the
 * leader's log, the pending map). The ids of a batch share one draw of random bits: within this
 * process each id has its own (ms, counter), and across processes the 62 random bits still
 * tell batches apart. So each id is the previous one with its counter (and, every 4,096 ids,
 * its milliseconds) rewritten.
 */
export function newEventIds(n: number): string[] {
  const ids = new Array<string>(n)
  if (n < 16) {
    for (let k = 0; k < n; k++) ids[k] = newEventId()
    return ids
  }
  const out = new Uint8Array(n * 36)
  const view = new DataView(out.buffer)
  tick()
  if (poolAt + 8 > pool.length) refill()
  writeTime(view, 0, lastMs)
  writeCounter(view, 0, counter)
  const b = pool
  const i = poolAt
  poolAt += 8
  out[8] = out[13] = out[18] = out[23] = DASH
  view.setUint16(19, HEX_PAIRS[(b[i]! & 0x3f) | 0x80]!, true)
  view.setUint16(21, HEX_PAIRS[b[i + 1]!]!, true)
  for (let k = 2; k < 8; k++) view.setUint16(20 + 2 * k, HEX_PAIRS[b[i + k]!]!, true)
  for (let k = 1; k < n; k++) {
    const o = k * 36
    out.copyWithin(o, o - 36, o)
    if (++counter > 0xfff) {
      lastMs++
      counter = 0
      writeTime(view, o, lastMs)
    }
    writeCounter(view, o, counter)
  }
  const all = asciiDecoder.decode(out)
  for (let k = 0; k < n; k++) ids[k] = all.slice(k * 36, k * 36 + 36)
  return ids
}

/** The 48 bits of milliseconds, as `xxxxxxxx-xxxx`, at `o`. */
function writeTime(view: DataView, o: number, ms: number): void {
  const high = Math.floor(ms / 0x10000) >>> 0
  view.setUint16(o, HEX_PAIRS[high >>> 24]!, true)
  view.setUint16(o + 2, HEX_PAIRS[(high >>> 16) & 0xff]!, true)
  view.setUint16(o + 4, HEX_PAIRS[(high >>> 8) & 0xff]!, true)
  view.setUint16(o + 6, HEX_PAIRS[high & 0xff]!, true)
  view.setUint16(o + 9, HEX_PAIRS[(ms >>> 8) & 0xff]!, true)
  view.setUint16(o + 11, HEX_PAIRS[ms & 0xff]!, true)
}

/** The version digit (7) and the 12-bit counter, as `7xxx`, at `o`. */
function writeCounter(view: DataView, o: number, c: number): void {
  view.setUint16(o + 14, HEX_PAIRS[0x70 | (c >>> 8)]!, true)
  view.setUint16(o + 16, HEX_PAIRS[c & 0xff]!, true)
}

/** Moves the clock of ids to the next (lastMs, counter): never below the last one. */
function tick(): void {
  const ms = Date.now()
  if (ms <= lastMs) {
    // the same millisecond (or a clock step back): count on from the last id
    if (++counter > 0xfff) {
      lastMs++
      counter = 0
    }
  } else {
    lastMs = ms
    counter = 0
  }
}

function refill(): void {
  globalThis.crypto.getRandomValues(pool)
  poolAt = 0
}

const HEX = Array.from({ length: 256 }, (_, n) => n.toString(16).padStart(2, '0'))
/** Per byte, its two hex digits as one 16-bit number stored little-endian: first digit in the low byte. */
const HEX_PAIRS = Uint16Array.from(HEX, (h) => h.charCodeAt(0) | (h.charCodeAt(1) << 8))
const DASH = 0x2d
const asciiDecoder = new TextDecoder()
const pool = new Uint8Array(4096)
let poolAt = pool.length
let lastMs = 0
let counter = 0

const ALPHABET = 'useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict'

/** A short random id (nanoid alphabet) for clients and sessions. */
export function shortId(size = 6): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(size))
  let id = ''
  for (let i = 0; i < size; i++) id += ALPHABET[bytes[i]! & 63]
  return id
}
