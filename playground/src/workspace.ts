import { createStorePromise, makeInMemoryAdapter, type Adapter, type Schema, type Store } from '@cairn/core'
import { NetworkGate, type Transport } from './network-gate.ts'

export const CLIENT_NAMES = ['A', 'B', 'C', 'D'] as const
export const MAX_CLIENTS = CLIENT_NAMES.length

/** One simulated device: its own store (own leader, own SQLite), its own network switch. */
export interface PlaygroundClient {
  readonly name: string
  readonly transport: Transport
  readonly gate: NetworkGate
  readonly store: Store
}

interface ClientSlot {
  readonly name: string
  readonly transport: Transport
  readonly gate: NetworkGate
  /** Kept across schema runs: the leader's data stays, and a changed schema rebuilds from its log. */
  readonly adapter: Adapter
  store: Store | undefined
}

export interface WorkspaceState {
  readonly schema: Schema | undefined
  readonly storeId: string
  readonly clients: readonly PlaygroundClient[]
  /** A failure to open the stores (not a schema error: those stay in the editor). */
  readonly error: string | undefined
  readonly busy: boolean
}

/**
 * The running side of the playground: the current schema and the 2–4 clients that use it, all
 * synced through the server that serves the page. Clients use the in-memory adapter, so a reload
 * starts them empty and they pull the store back from the server (which keeps it in SQLite).
 */
export class Workspace {
  private slots: ClientSlot[] = []
  private state: WorkspaceState = { schema: undefined, storeId: '', clients: [], error: undefined, busy: false }
  private readonly listeners = new Set<() => void>()
  /** Runs one reconfiguration at a time, in order. */
  private queue: Promise<void> = Promise.resolve()

  constructor(
    private readonly syncUrl: URL,
    private readonly onError: (error: unknown) => void,
  ) {
    this.slots = [this.slot(0, 'websocket'), this.slot(1, 'websocket')]
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  readonly snapshot = (): WorkspaceState => this.state

  /** Opens every client on `schema` and `storeId`, closing the stores of the previous run first. */
  run(schema: Schema, storeId: string): Promise<void> {
    return this.enqueue(async () => {
      this.set({ busy: true })
      await this.closeStores()
      this.set({ schema, storeId, clients: [], error: undefined })
      await Promise.all(this.slots.map((slot) => this.open(slot, schema, storeId)))
      this.publishClients()
    })
  }

  addClient(transport: Transport): Promise<void> {
    return this.enqueue(async () => {
      if (this.slots.length >= MAX_CLIENTS) return
      const slot = this.slot(this.slots.length, transport)
      this.slots.push(slot)
      const { schema, storeId } = this.state
      if (schema !== undefined) await this.open(slot, schema, storeId)
      this.publishClients()
    })
  }

  removeClient(): Promise<void> {
    return this.enqueue(async () => {
      if (this.slots.length <= 1) return
      const slot = this.slots.pop()!
      await slot.store?.shutdown('client removed in the playground')
      this.publishClients()
    })
  }

  setOnline(name: string, online: boolean): void {
    this.slots.find((s) => s.name === name)?.gate.setOnline(online)
    this.publishClients()
  }

  async close(): Promise<void> {
    await this.enqueue(() => this.closeStores())
  }

  private slot(index: number, transport: Transport): ClientSlot {
    return { name: CLIENT_NAMES[index]!, transport, gate: new NetworkGate(), adapter: makeInMemoryAdapter(), store: undefined }
  }

  private async open(slot: ClientSlot, schema: Schema, storeId: string): Promise<void> {
    try {
      slot.store = await createStorePromise({
        schema,
        adapter: slot.adapter,
        storeId,
        onError: this.onError,
        sync: { backend: slot.gate.backend(this.syncUrl, slot.transport), onBackendIdMismatch: 'reset' },
      })
    } catch (e) {
      slot.store = undefined
      this.set({ error: `Client ${slot.name} could not open store "${storeId}": ${(e as Error)?.message ?? String(e)}` })
    }
  }

  private async closeStores(): Promise<void> {
    const stores = this.slots.map((s) => s.store).filter((s) => s !== undefined)
    for (const slot of this.slots) slot.store = undefined
    await Promise.all(stores.map((s) => s.shutdown('the playground is switching schema')))
  }

  private publishClients(): void {
    const clients = this.slots
      .filter((s) => s.store !== undefined)
      .map((s) => ({ name: s.name, transport: s.transport, gate: s.gate, store: s.store! }))
    this.set({ clients, busy: false })
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const next = this.queue.then(task)
    this.queue = next.catch((e: unknown) => {
      this.set({ error: (e as Error)?.message ?? String(e), busy: false })
    })
    return next
  }

  private set(patch: Partial<WorkspaceState>): void {
    this.state = { ...this.state, ...patch }
    for (const listener of this.listeners) listener()
  }
}
