import WebSocket from 'ws'

/** A bare WebSocket to the server, for sending frames no well-behaved client would. */
export interface RawSocket {
  readonly ws: WebSocket
  readonly messages: any[]
  readonly closed: Promise<{ code: number; reason: string }>
  readonly isClosed: () => boolean
  send(frame: string | object | Buffer): void
  /** Resolves with the next message matching `predicate` (or rejects on close / timeout). */
  next(predicate?: (m: any) => boolean, timeoutMs?: number): Promise<any>
}

export async function rawSocket(url: string, options: WebSocket.ClientOptions = {}): Promise<RawSocket> {
  const ws = new WebSocket(url, options)
  const messages: any[] = []
  const waiters: { predicate: (m: any) => boolean; resolve: (m: any) => void }[] = []
  let isClosed = false
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => {
      isClosed = true
      resolve({ code, reason: reason.toString() })
    }),
  )
  ws.on('error', () => {})
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString())
    messages.push(m)
    for (const w of [...waiters]) {
      if (w.predicate(m)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(m)
      }
    }
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
  })
  return {
    ws,
    messages,
    closed,
    isClosed: () => isClosed,
    send: (frame) => ws.send(typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame)),
    next: (predicate = () => true, timeoutMs = 3_000) => {
      const seen = messages.find(predicate)
      if (seen !== undefined) {
        messages.splice(messages.indexOf(seen), 1)
        return Promise.resolve(seen)
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(messages).slice(0, 300)}`)),
          timeoutMs,
        )
        const waiter = {
          predicate,
          resolve: (m: any) => {
            clearTimeout(timer)
            messages.splice(messages.indexOf(m), 1)
            resolve(m)
          },
        }
        waiters.push(waiter)
        void closed.then(() => {
          if (waiters.includes(waiter)) {
            clearTimeout(timer)
            reject(new Error('socket closed'))
          }
        })
      })
    },
  }
}

export const hello = (storeId: string, token: string | undefined, clientId = 'c1', extra: object = {}) => ({
  v: 1,
  type: 'hello',
  storeId,
  clientId,
  sessionId: 's1',
  cursor: 0,
  ...(token === undefined ? {} : { token }),
  ...extra,
})

export const event = (clientId: string, producerSeq: number, extra: object = {}) => ({
  eventId: `${clientId}-${producerSeq}`,
  producerSeq,
  name: 'v1.TodoCreated',
  args: { id: `t${producerSeq}`, text: 'x' },
  clientId,
  sessionId: 's1',
  ...extra,
})
