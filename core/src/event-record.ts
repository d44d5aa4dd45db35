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
 * `n` new event ids, as `newEventId` makes them one by one. A large batch writes them as ASCII
 * into one buffer, decodes it once and slices it: an id built by concatenation is a tree of
 * string pieces that V8 copies into a flat string the first time it is hashed or read (the
 * leader's log, the pending map), and that building and copying cost more than the rest of the id.
 */
export function newEventIds(n: number): string[] {
  const ids = new Array<string>(n)
  if (n < 16) {
    for (let k = 0; k < n; k++) ids[k] = newEventId()
    return ids
  }
  // each byte of an id goes in as its two hex digits at once (one 16-bit store) at a fixed place
  const out = new Uint8Array(n * 36)
  const pairs = HEX_PAIRS
  const view = new DataView(out.buffer)
  for (let k = 0; k < n; k++) {
    tick()
    if (poolAt + 8 > pool.length) refill()
    const ms = lastMs
    const high = Math.floor(ms / 0x10000) >>> 0
    const o = k * 36
    const b = pool
    const i = poolAt
    poolAt += 8
    view.setUint16(o, pairs[high >>> 24]!, true)
    view.setUint16(o + 2, pairs[(high >>> 16) & 0xff]!, true)
    view.setUint16(o + 4, pairs[(high >>> 8) & 0xff]!, true)
    view.setUint16(o + 6, pairs[high & 0xff]!, true)
    out[o + 8] = DASH
    view.setUint16(o + 9, pairs[(ms >>> 8) & 0xff]!, true)
    view.setUint16(o + 11, pairs[ms & 0xff]!, true)
    out[o + 13] = DASH
    view.setUint16(o + 14, pairs[0x70 | (counter >>> 8)]!, true)
    view.setUint16(o + 16, pairs[counter & 0xff]!, true)
    out[o + 18] = DASH
    view.setUint16(o + 19, pairs[(b[i]! & 0x3f) | 0x80]!, true)
    view.setUint16(o + 21, pairs[b[i + 1]!]!, true)
    out[o + 23] = DASH
    view.setUint16(o + 24, pairs[b[i + 2]!]!, true)
    view.setUint16(o + 26, pairs[b[i + 3]!]!, true)
    view.setUint16(o + 28, pairs[b[i + 4]!]!, true)
    view.setUint16(o + 30, pairs[b[i + 5]!]!, true)
    view.setUint16(o + 32, pairs[b[i + 6]!]!, true)
    view.setUint16(o + 34, pairs[b[i + 7]!]!, true)
  }
  const all = asciiDecoder.decode(out)
  for (let k = 0; k < n; k++) ids[k] = all.slice(k * 36, k * 36 + 36)
  return ids
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
