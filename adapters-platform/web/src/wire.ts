// What crosses a worker or tab boundary: plain, structured-cloneable shapes of the leader's
// records, hints and errors, and the conversions to and from them.
import { CairnError, type BootStatus, type CommitHint, type EventRecord, type LeaderMessage } from '@cairn/core'

/** Where the leader keeps its data: a file in OPFS, or memory where OPFS is unavailable. */
export type StorageMode = 'opfs' | 'in-memory'

/** An error as plain data: a class and its fields do not survive structured cloning. */
export interface WireError {
  readonly name: string
  readonly code: string
  readonly message: string
}

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: WireError }

/** What a worker tells its page, besides answers to calls. */
export type WorkerEvent =
  | { readonly type: 'leader'; readonly message: LeaderMessage }
  | { readonly type: 'warn'; readonly text: string }
  | { readonly type: 'error'; readonly error: WireError }
  | { readonly type: 'boot'; readonly status: BootStatus }
  | { readonly type: 'role'; readonly leader: boolean }

/** An event record as plain data; `json` is read here, as a session's records make it on demand. */
export function plainRecord(e: EventRecord): EventRecord {
  return {
    seqNum: e.seqNum,
    name: e.name,
    json: e.json,
    eventId: e.eventId,
    clientId: e.clientId,
    sessionId: e.sessionId,
    clientOnly: e.clientOnly,
  }
}

/** A commit hint without its recorded write statements (a class holding wasm-side state). */
export function plainHint(h: CommitHint): CommitHint {
  return { count: h.count, base: h.base, changeset: h.changeset }
}

/** Leader messages carry records that may hold validated args: only the JSON travels. */
export function plainMessage(m: LeaderMessage): LeaderMessage {
  return m.type === 'upstream' || m.type === 'pending' || m.type === 'clientOnly'
    ? { type: m.type, events: m.events.map(plainRecord), status: m.status }
    : m
}

export function toWireError(e: unknown): WireError {
  if (e instanceof Error) {
    const code: unknown = (e as Error & { code?: unknown }).code
    return { name: e.name, code: typeof code === 'string' ? code : e.name, message: e.message }
  }
  return { name: 'Error', code: 'Unknown', message: String(e) }
}

/** A CairnError with the code and message the other side threw. */
export function fromWireError(e: WireError): CairnError {
  const error = new CairnError(e.code, e.message)
  Object.defineProperty(error, 'name', { value: e.name === 'Error' ? 'CairnError' : e.name })
  return error
}

export async function toResult<T>(fn: () => Promise<T> | T): Promise<Result<T>> {
  try {
    return { ok: true, value: await fn() }
  } catch (e) {
    return { ok: false, error: toWireError(e) }
  }
}

export function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value
  throw fromWireError(result.error)
}
