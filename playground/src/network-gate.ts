import type { SyncBackend, SyncConnection } from '@cairn/core'
import { makeHttpSync, makeWsSync, type WebSocketConstructor, type WebSocketLike } from '@cairn/sync'

export type Transport = 'websocket' | 'long-poll'

/**
 * A client's network cable: the playground's offline switch. While it is off, new sockets and
 * requests fail at once and the open ones are cut, exactly as a lost network would; turning it
 * back on asks the connection to reconnect now instead of waiting for its backoff.
 */
export class NetworkGate {
  private isOnline: boolean
  private readonly sockets = new Set<WebSocket>()
  private readonly requests = new Set<AbortController>()
  private connection: SyncConnection | undefined

  constructor(online = true) {
    this.isOnline = online
  }

  get online(): boolean {
    return this.isOnline
  }

  setOnline(online: boolean): void {
    if (online === this.isOnline) return
    this.isOnline = online
    if (!online) {
      for (const socket of this.sockets) socket.close(4000, 'offline (playground switch)')
      for (const request of this.requests) request.abort(new Error('offline (playground switch)'))
    } else {
      this.connection?.reconnect()
    }
  }

  /** A sync backend for `url` (the page's `/sync`) whose traffic goes through this gate. */
  backend(syncUrl: URL, transport: Transport): SyncBackend {
    const options = { getAuthToken: () => null, backoff: { baseMs: 200, capMs: 2000 } }
    const inner =
      transport === 'websocket'
        ? makeWsSync({ ...options, url: syncUrl.href.replace(/^http/, 'ws'), WebSocket: this.webSocket() })
        : makeHttpSync({ ...options, url: syncUrl.href, fetch: this.fetch })
    return {
      name: `${inner.name} (playground)`,
      connect: (params, handlers) => {
        const connection = inner.connect(params, handlers)
        this.connection = connection
        return connection
      },
    }
  }

  private webSocket(): WebSocketConstructor {
    const gate = this
    // called with `new`: returning an object makes that object the result
    function GatedWebSocket(url: string): WebSocketLike {
      if (!gate.isOnline) return deadSocket()
      const socket = new WebSocket(url)
      gate.sockets.add(socket)
      socket.addEventListener('close', () => gate.sockets.delete(socket))
      return socket
    }
    return GatedWebSocket as unknown as WebSocketConstructor
  }

  private readonly fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    if (!this.isOnline) throw new TypeError('Failed to fetch (offline: playground switch)')
    const controller = new AbortController()
    init?.signal?.addEventListener('abort', () => controller.abort(init.signal?.reason))
    this.requests.add(controller)
    try {
      return await fetch(input, { ...init, signal: controller.signal })
    } finally {
      this.requests.delete(controller)
    }
  }
}

/** The offline switch of a client whose connection lives in its worker: posted to the worker's gate. */
export class RemoteGate {
  private isOnline: boolean
  private readonly channel: BroadcastChannel

  constructor(clientName: string, online: boolean) {
    this.isOnline = online
    this.channel = new BroadcastChannel(gateChannel(clientName))
  }

  get online(): boolean {
    return this.isOnline
  }

  setOnline(online: boolean): void {
    this.isOnline = online
    this.channel.postMessage({ online } satisfies GateMessage)
  }

  /** Posts the switch's state again: a flip while the worker was starting reached no gate yet. */
  repost(): void {
    this.channel.postMessage({ online: this.isOnline } satisfies GateMessage)
  }
}

export interface GateMessage {
  readonly online: boolean
}

/**
 * The channel between a client's switch in the page and the gate in its worker. Per client name,
 * not per store: it is the simulated device's network (other tabs' client of that name follow it).
 */
export const gateChannel = (clientName: string) => `cairn-playground-gate:${clientName}`

/** A socket that never opens: it reports a close right away, as an unreachable server does. */
function deadSocket(): WebSocketLike {
  const socket: WebSocketLike = {
    readyState: 3,
    send() {},
    close() {},
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
  }
  setTimeout(() => socket.onclose?.({ code: 1006, reason: 'offline (playground switch)' }), 0)
  return socket
}
