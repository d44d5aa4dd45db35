import { CairnError } from '../errors.ts'
import {
  SyncError,
  type PushAck,
  type ServerEvent,
  type SyncBackend,
  type SyncConnection,
  type SyncConnectParams,
  type SyncHandlers,
  type SyncLimits,
  type WireEvent,
} from '../sync/backend.ts'
import { MemorySyncStore, resolveLimits } from './memory-server.ts'

/**
 * Probabilities (0..1) of network faults, drawn from the server's seeded generator, so a run
 * replays exactly from its seed. A lost message is what a real network shows as a dead
 * connection: the message vanishes and the connection is cut a few ticks later.
 */
export interface NetworkFaults {
  readonly drop?: number
  readonly duplicate?: number
  /** Deliver a message 2..8 ticks late. */
  readonly delay?: number
  /** Deliver a message after the one sent after it. */
  readonly reorder?: number
  /** Cut the connection before a push reaches the server. */
  readonly disconnectBeforeSend?: number
  /** Cut the connection after the server stored a push, before the ack is sent. */
  readonly disconnectAfterStored?: number
  /** Cut the connection right after the ack was sent. */
  readonly disconnectAfterAck?: number
}

export interface InMemorySyncServerOptions {
  /** Seed of the fault generator; print it with a failing test to replay the run. */
  readonly seed?: number
  readonly limits?: Partial<SyncLimits>
  readonly faults?: NetworkFaults
  /**
   * Decides whether a push is taken, as the sync server's `authorizePush`: `true` takes it,
   * `false` refuses it as `Forbidden`, or a refusal with the refused event's index and a reason.
   *
   * @example
   * authorizePush: (events) => {
   *   const index = events.findIndex((e) => e.name === 'v1.Forbidden')
   *   return index < 0 || { code: 'Invalid', index, reason: 'not allowed here' }
   * }
   */
  readonly authorizePush?: (
    events: readonly WireEvent[],
  ) => boolean | { readonly code: 'Forbidden' | 'Invalid'; readonly index?: number; readonly reason?: string }
}

export interface InMemorySyncStats {
  pushes: number
  eventsAppended: number
  duplicatesAcked: number
  messagesDropped: number
  messagesDuplicated: number
  disconnects: number
  connections: number
}

/**
 * A sync server living in memory, with a deterministic fault layer, for tests of apps and of
 * Cairn itself. Each client gets its own backend from `server.backend()`; time advances in ticks
 * (one macrotask each), so no test needs to sleep.
 *
 * @example
 * const server = makeInMemorySyncServer({ seed: 42, faults: { drop: 0.05, duplicate: 0.05 } })
 * const a = await createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: 's', sync: { backend: server.backend() } })
 * const b = await createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: 's', sync: { backend: server.backend() } })
 * server.setFaults({})           // heal the network
 * await server.settled([a, b])   // every client confirmed everything and caught up
 */
export class InMemorySyncServer {
  readonly seed: number
  readonly limits: SyncLimits
  readonly stats: InMemorySyncStats = {
    pushes: 0,
    eventsAppended: 0,
    duplicatesAcked: 0,
    messagesDropped: 0,
    messagesDuplicated: 0,
    disconnects: 0,
    connections: 0,
  }
  private faults: NetworkFaults
  private readonly stores = new Map<string, MemorySyncStore>()
  private readonly live = new Map<string, Set<MemoryConnection>>()
  private readonly random: () => number
  private tick = 0
  private queue: { at: number; order: number; run: () => void }[] = []
  private order = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private backendCount = 0
  private readonly authorizePush: InMemorySyncServerOptions['authorizePush']

  constructor(options: InMemorySyncServerOptions = {}) {
    this.seed = options.seed ?? Math.floor(Math.random() * 2 ** 31)
    this.random = mulberry32(this.seed)
    this.limits = resolveLimits(options.limits)
    this.faults = options.faults ?? {}
    this.authorizePush = options.authorizePush
  }

  /** A backend for one client. */
  backend(options: { readonly name?: string } = {}): InMemorySyncBackend {
    return new InMemorySyncBackend(this, options.name ?? `memory-${++this.backendCount}`)
  }

  /** Changes the faults from now on; `setFaults({})` heals the network. */
  setFaults(faults: NetworkFaults): void {
    this.faults = faults
  }

  /** The store's canonical log. */
  events(storeId: string): readonly ServerEvent[] {
    return this.store(storeId).log
  }

  head(storeId: string): number {
    return this.stores.get(storeId)?.head ?? 0
  }

  backendIdOf(storeId: string): string {
    return this.store(storeId).backendId
  }

  /** Deletes a store, as a server reset would: it comes back empty with a new backendId. */
  wipe(storeId: string): void {
    this.stores.delete(storeId)
    for (const c of [...(this.live.get(storeId) ?? [])]) c.cut(new SyncError('Disconnected', 'The server was reset.'))
  }

  /**
   * Resolves once nothing is in flight and every given store has no pending event and holds
   * the server's head. Advances ticks; fails after `maxTicks` with the stores' statuses.
   */
  async settled(
    stores: readonly { readonly storeId: string; readonly syncStatus: { pending: number; leaderHead: string; localHead: string } }[],
    maxTicks = 20_000,
  ): Promise<void> {
    for (let i = 0; i < maxTicks; i++) {
      const done =
        this.queue.length === 0 &&
        stores.every((s) => s.syncStatus.pending === 0 && headGlobal(s.syncStatus.localHead) === this.head(s.storeId))
      if (done) return
      await new Promise((resolve) => setTimeout(resolve, 0))
    }
    throw new CairnError(
      'NotSettled',
      `The in-memory sync did not settle (seed ${this.seed}): ${stores
        .map((s) => `${s.storeId} ${JSON.stringify(s.syncStatus)}`)
        .join('; ')}; server head ${stores.map((s) => this.head(s.storeId)).join(',')}`,
    )
  }

  /** @internal */
  store(storeId: string): MemorySyncStore {
    let store = this.stores.get(storeId)
    if (store === undefined) {
      store = new MemorySyncStore(`backend-${Math.floor(this.random() * 2 ** 31).toString(36)}`)
      this.stores.set(storeId, store)
    }
    return store
  }

  /** @internal */
  subscribe(storeId: string, connection: MemoryConnection): () => void {
    let set = this.live.get(storeId)
    if (set === undefined) {
      set = new Set()
      this.live.set(storeId, set)
    }
    set.add(connection)
    return () => set.delete(connection)
  }

  /** @internal */
  push(storeId: string, events: readonly WireEvent[]): PushAck {
    const decision = this.authorizePush?.(events) ?? true
    if (decision !== true) {
      const d = decision === false ? { code: 'Forbidden' as const } : decision
      const message =
        d.code === 'Forbidden' ? 'This client may not push these events.' : `Event ${d.index ?? 0} was refused: ${d.reason ?? 'invalid'}.`
      throw new SyncError(d.code, message, {
        ...(d.index === undefined ? {} : { index: d.index }),
        ...(d.reason === undefined ? {} : { reason: d.reason }),
      })
    }
    const store = this.store(storeId)
    const head = store.head
    const ack = store.append(events, this.limits)
    this.stats.pushes++
    this.stats.eventsAppended += store.head - head
    this.stats.duplicatesAcked += events.length - (store.head - head)
    if (store.head > head) for (const c of this.live.get(storeId) ?? []) c.deliverLive()
    return ack
  }

  /** @internal Schedules `run` after `ticks` ticks. */
  schedule(ticks: number, run: () => void): void {
    this.queue.push({ at: this.tick + ticks, order: this.order++, run })
    if (this.timer === undefined) this.timer = setTimeout(() => this.advance(), 0)
  }

  /** @internal Sends a message through the fault layer. `cut` is called when the message is lost. */
  send(deliver: () => void, cut: () => void): void {
    const f = this.faults
    if (this.chance(f.drop)) {
      this.stats.messagesDropped++
      this.schedule(1 + Math.floor(this.random() * 3), cut)
      return
    }
    let ticks = 1
    if (this.chance(f.delay)) ticks += 1 + Math.floor(this.random() * 7)
    if (this.chance(f.reorder)) ticks += 1
    this.schedule(ticks, deliver)
    if (this.chance(f.duplicate)) {
      this.stats.messagesDuplicated++
      this.schedule(ticks + 1, deliver)
    }
  }

  /** @internal A whole number in [0, max), from the seeded generator. */
  jitter(max: number): number {
    return Math.floor(this.random() * max)
  }

  /** @internal */
  chance(p: number | undefined): boolean {
    return p !== undefined && p > 0 && this.random() < p
  }

  /** @internal */
  get currentFaults(): NetworkFaults {
    return this.faults
  }

  private advance(): void {
    this.timer = undefined
    this.tick++
    const due = this.queue.filter((q) => q.at <= this.tick).sort((a, b) => a.at - b.at || a.order - b.order)
    this.queue = this.queue.filter((q) => q.at > this.tick)
    for (const item of due) item.run()
    if (this.queue.length > 0 && this.timer === undefined) this.timer = setTimeout(() => this.advance(), 0)
  }
}

/** Creates an in-memory sync server; see {@link InMemorySyncServer}. */
export function makeInMemorySyncServer(options?: InMemorySyncServerOptions): InMemorySyncServer {
  return new InMemorySyncServer(options)
}

/** One client's way to the in-memory server. `setOnline(false)` cuts it off the network. */
export class InMemorySyncBackend implements SyncBackend {
  private online = true
  private readonly connections = new Set<MemoryConnection>()

  constructor(
    private readonly server: InMemorySyncServer,
    readonly name: string,
  ) {}

  get isOnline(): boolean {
    return this.online
  }

  /** Takes the client off the network (its connection is cut) or brings it back (it reconnects). */
  setOnline(online: boolean): void {
    if (this.online === online) return
    this.online = online
    for (const c of this.connections) {
      if (online) c.open()
      else c.cut(new SyncError('Disconnected', `${this.name} went offline.`))
    }
  }

  connect(params: SyncConnectParams, handlers: SyncHandlers): SyncConnection {
    const connection = new MemoryConnection(
      this.server,
      params,
      handlers,
      () => this.online,
      () => this.connections.delete(connection),
    )
    this.connections.add(connection)
    connection.open()
    return connection
  }
}

class MemoryConnection implements SyncConnection {
  private state: 'connecting' | 'open' | 'down' | 'refused' | 'closed' = 'down'
  /** Messages of an older connection are discarded when they arrive. */
  private generation = 0
  private sentThrough = 0
  private unsubscribe: (() => void) | undefined
  private readonly inflight = new Map<number, { reject: (e: unknown) => void }>()
  private reqId = 0

  constructor(
    private readonly server: InMemorySyncServer,
    private readonly params: SyncConnectParams,
    private readonly handlers: SyncHandlers,
    private readonly online: () => boolean,
    private readonly onClose: () => void,
  ) {}

  get connected(): boolean {
    return this.state === 'open'
  }

  open(): void {
    if (this.state === 'closed' || this.state === 'connecting' || this.state === 'open' || !this.online()) return
    this.state = 'connecting'
    const generation = ++this.generation
    this.server.schedule(1, () => {
      if (generation !== this.generation || this.state !== 'connecting') return
      if (!this.online()) {
        this.state = 'down'
        return
      }
      const store = this.server.store(this.params.storeId)
      const known = this.params.backendId()
      if (known !== null && known !== store.backendId) {
        this.state = 'refused'
        this.handlers.onRefused(
          new SyncError(
            'BackendIdMismatch',
            `The server's store "${this.params.storeId}" has backendId ${store.backendId}, but this client synced with ${known}: the server was reset.`,
          ),
        )
        return
      }
      this.state = 'open'
      this.server.stats.connections++
      this.handlers.onWelcome({ backendId: store.backendId, head: store.head, limits: this.server.limits })
      this.sentThrough = this.params.cursor()
      this.unsubscribe = this.server.subscribe(this.params.storeId, this)
      this.deliverLive()
    })
  }

  /** Sends the events the client has not been sent yet, in pages. */
  deliverLive(): void {
    if (this.state !== 'open') return
    const store = this.server.store(this.params.storeId)
    const generation = this.generation
    while (this.sentThrough < store.head) {
      const page = store.page(this.sentThrough, this.server.limits.pullPageSize)
      this.sentThrough += page.events.length
      const head = store.head
      this.server.send(
        () => {
          if (generation === this.generation && this.state === 'open')
            this.handlers.onPage({ events: page.events, head, remaining: page.remaining })
        },
        () => this.cutIf(generation, 'a pull page was lost'),
      )
    }
  }

  push(events: readonly WireEvent[]): Promise<PushAck> {
    if (this.state !== 'open') return Promise.reject(new SyncError('Disconnected', 'Not connected to the in-memory sync server.'))
    const generation = this.generation
    const reqId = ++this.reqId
    return new Promise<PushAck>((resolve, reject) => {
      this.inflight.set(reqId, { reject })
      const settle = (fn: () => void) => {
        if (this.inflight.delete(reqId)) fn()
      }
      const f = this.server.currentFaults
      if (this.server.chance(f.disconnectBeforeSend)) {
        this.server.schedule(1, () => this.cutIf(generation, 'cut before the push was sent'))
        return
      }
      this.server.send(
        () => {
          if (generation !== this.generation || this.state !== 'open') return
          let reply: () => void
          try {
            const ack = this.server.push(this.params.storeId, events)
            reply = () => settle(() => resolve(ack))
          } catch (e) {
            reply = () => settle(() => reject(e))
          }
          if (this.server.chance(f.disconnectAfterStored)) {
            this.cutIf(generation, 'cut after the server stored the push')
            return
          }
          this.server.send(
            () => {
              if (generation === this.generation) reply()
            },
            () => this.cutIf(generation, 'a push ack was lost'),
          )
          if (this.server.chance(f.disconnectAfterAck)) this.server.schedule(2, () => this.cutIf(generation, 'cut after the ack was sent'))
        },
        () => this.cutIf(generation, 'a push was lost'),
      )
    })
  }

  reconnect(options: { readonly afterFailures?: number } = {}): void {
    if (this.state === 'closed') return
    const failures = options.afterFailures ?? 0
    // after failures, a full-jitter backoff in ticks: up to 4, 8, 16… (at most 256) ticks
    const ticks = failures > 0 ? 1 + this.server.jitter(Math.min(256, 4 * 2 ** (failures - 1))) : 1
    this.cut(new SyncError('Disconnected', 'Reconnect requested by the client.'), ticks)
  }

  /** Cuts the connection (if still `generation`) and reconnects after a short backoff. */
  cut(error: SyncError, backoffTicks = 3): void {
    if (this.state === 'closed') return
    const wasUp = this.state === 'open' || this.state === 'connecting'
    this.generation++
    this.state = 'down'
    this.unsubscribe?.()
    this.unsubscribe = undefined
    for (const [, p] of this.inflight) p.reject(new SyncError('Disconnected', `The connection dropped before the ack (${error.message}).`))
    this.inflight.clear()
    if (wasUp) {
      this.server.stats.disconnects++
      this.handlers.onDisconnect(error)
    }
    this.server.schedule(backoffTicks, () => this.open())
  }

  async close(): Promise<void> {
    this.generation++
    this.unsubscribe?.()
    for (const [, p] of this.inflight) p.reject(new SyncError('Disconnected', 'The connection was closed.'))
    this.inflight.clear()
    this.state = 'closed'
    this.onClose()
  }

  private cutIf(generation: number, why: string): void {
    if (generation === this.generation && (this.state === 'open' || this.state === 'connecting')) {
      this.cut(new SyncError('Disconnected', `The in-memory network ${why}.`))
    }
  }
}

function headGlobal(head: string): number {
  return Number(/^e(\d+)/.exec(head)?.[1] ?? -1)
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
