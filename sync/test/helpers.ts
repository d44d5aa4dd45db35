import {
  SyncError,
  type PullPage,
  type ServerEvent,
  type SyncBackend,
  type SyncConnection,
  type Welcome,
  type WireEvent,
} from '@cairn/core'

/** Polls `condition` every few ms until it holds, or fails after `timeoutMs` with `describe()`. */
export async function waitFor(condition: () => boolean, describe: () => string = () => '', timeoutMs = 5_000): Promise<void> {
  const start = Date.now()
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms ${describe()}`)
    await sleep(5)
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A raw client of a `SyncBackend`: records what the handlers get, keeps its cursor from the pages. */
export interface Recorder {
  readonly connection: SyncConnection
  readonly welcomes: Welcome[]
  readonly pages: PullPage[]
  readonly events: ServerEvent[]
  readonly disconnects: unknown[]
  readonly refused: SyncError[]
  cursor: number
  backendId: string | null
  clientId: string
}

export function connect(
  backend: SyncBackend,
  options: { storeId?: string; clientId?: string; cursor?: number; backendId?: string | null } = {},
): Recorder {
  const r: Omit<Recorder, 'connection'> = {
    welcomes: [],
    pages: [],
    events: [],
    disconnects: [],
    refused: [],
    cursor: options.cursor ?? 0,
    backendId: options.backendId ?? null,
    clientId: options.clientId ?? `c-${Math.random().toString(36).slice(2, 8)}`,
  }
  const connection = backend.connect(
    {
      storeId: options.storeId ?? 'conf',
      clientId: () => r.clientId,
      sessionId: 's1',
      backendId: () => r.backendId,
      cursor: () => r.cursor,
    },
    {
      onWelcome: (w) => {
        r.welcomes.push(w)
        r.backendId ??= w.backendId
      },
      onPage: (page) => {
        r.pages.push(page)
        for (const e of page.events) {
          if (e.seq !== r.cursor + 1) continue // a re-delivery after a reconnect
          r.events.push(e)
          r.cursor = e.seq
        }
      },
      onDisconnect: (e) => r.disconnects.push(e),
      onRefused: (e) => r.refused.push(e),
    },
  )
  return Object.assign(r, { connection })
}

let eventCounter = 0
export function wireEvents(
  clientId: string,
  fromSeq: number,
  count: number,
  args: (i: number) => unknown = (i) => ({ id: `t${i}`, text: `text ${i}` }),
): WireEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    eventId: `${clientId}-${fromSeq + i}-${++eventCounter}`,
    producerSeq: fromSeq + i,
    name: 'v1.TodoCreated',
    args: args(fromSeq + i),
    clientId,
    sessionId: 's1',
  }))
}

export async function refusalOf(p: Promise<unknown>): Promise<SyncError> {
  try {
    await p
  } catch (e) {
    if (e instanceof SyncError) return e
    throw e
  }
  throw new Error('expected the promise to reject with a SyncError')
}
