import { createStorePromise, makeInMemoryAdapter, type Adapter, type Schema, type Store } from '@cairn/core'
import { makePersistedAdapter, resetPersistence } from '@cairn/adapter-web'
import type { ClientWorkerInput } from './client.worker.ts'
import ClientWorker from './client.worker.ts?worker'
import { NetworkGate, RemoteGate, type Transport } from './network-gate.ts'
import type { SchemaSource } from './schema-module.ts'

export const CLIENT_NAMES = ['A', 'B', 'C', 'D'] as const
export const MAX_CLIENTS = CLIENT_NAMES.length
const OFFLINE_KEY = 'cairn-playground-offline'

/** A client's offline switch: in the page (in-memory clients) or posted to its worker (persisted ones). */
export interface ClientGate {
  readonly online: boolean
  setOnline(online: boolean): void
}

/** One simulated device: its own store (own leader, own SQLite), its own network switch. */
export interface PlaygroundClient {
  readonly name: string
  readonly transport: Transport
  readonly gate: ClientGate
  readonly store: Store
  /** Where its leader keeps the store: its own OPFS file, or memory (then `storageNote` says why). */
  readonly storage: 'opfs' | 'in-memory'
  readonly storageNote: string | undefined
}

interface ClientSlot {
  readonly name: string
  readonly transport: Transport
  readonly gate: ClientGate
  /** In-memory clients only: kept across schema runs, so the leader's data stays and a changed schema rebuilds from its log. */
  memory: Adapter | undefined
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
 * Why this browser cannot persist the clients with @cairn/adapter-web (a Worker on OPFS, elected
 * with Web Locks), or undefined when it can.
 */
export function persistenceUnavailable(): string | undefined {
  if (typeof Worker === 'undefined') return 'no Web Workers'
  if (typeof navigator.locks?.request !== 'function') return 'no Web Locks'
  if (typeof BroadcastChannel === 'undefined') return 'no BroadcastChannel'
  if (typeof navigator.storage?.getDirectory !== 'function') return 'no origin private file system (navigator.storage.getDirectory)'
  return undefined
}

/**
 * The running side of the playground: the current schema and the 2–4 clients that use it, all
 * synced through the server that serves the page. Each client is its own local copy of the store
 * through @cairn/adapter-web (`localName` = its letter: own OPFS file, leader worker, lock and
 * client id), so a reload boots it from its file; where that is unavailable, clients use the
 * in-memory adapter and a reload pulls the store back from the server.
 */
export class Workspace {
  private slots: ClientSlot[] = []
  private state: WorkspaceState = { schema: undefined, storeId: '', clients: [], error: undefined, busy: false }
  private source: SchemaSource | undefined
  private readonly listeners = new Set<() => void>()
  /** Runs one reconfiguration at a time, in order. */
  private queue: Promise<void> = Promise.resolve()
  /** Why the clients keep memory instead of OPFS, or undefined. */
  readonly memoryOnly: string | undefined = persistenceUnavailable()

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

  /**
   * Opens every client on `schema` and `storeId`, closing the stores of the previous run first.
   * `source` is how each client's worker gets the same schema (a preset's name or the module's code).
   */
  run(schema: Schema, storeId: string, source: SchemaSource): Promise<void> {
    return this.enqueue(async () => {
      this.set({ busy: true })
      await this.closeStores()
      this.source = source
      this.set({ schema, storeId, clients: [], error: undefined })
      // the first client opens alone and is shown at once: on two cores, the others' workers
      // (each compiling sqlite and booting its leader) would otherwise delay it by as much again
      const [first, ...rest] = this.slots
      if (first !== undefined) await this.open(first)
      this.publishClients()
      if (rest.length === 0) return
      await Promise.all(rest.map((slot) => this.open(slot)))
      this.publishClients()
    })
  }

  addClient(transport: Transport): Promise<void> {
    return this.enqueue(async () => {
      if (this.slots.length >= MAX_CLIENTS) return
      const slot = this.slot(this.slots.length, transport)
      this.slots.push(slot)
      await this.open(slot)
      this.publishClients()
    })
  }

  removeClient(): Promise<void> {
    return this.enqueue(async () => {
      if (this.slots.length <= 1) return
      const slot = this.slots.pop()!
      const store = slot.store
      slot.store = undefined
      await this.unmountStores()
      await store?.shutdown('client removed in the playground')
      this.publishClients()
    })
  }

  /**
   * Deletes a client's local data (its OPFS file and client id, or its in-memory leader) and
   * opens it again: it starts empty and pulls the store from the server.
   */
  resetClient(name: string): Promise<void> {
    return this.enqueue(async () => {
      const slot = this.slots.find((s) => s.name === name)
      if (slot === undefined) return
      this.set({ busy: true })
      const store = slot.store
      slot.store = undefined
      await this.unmountStores()
      await store?.shutdown('local data reset in the playground')
      if (this.memoryOnly === undefined) await resetLocalCopy(this.state.storeId, name)
      else slot.memory = makeInMemoryAdapter()
      await this.open(slot)
      this.publishClients()
    })
  }

  setOnline(name: string, online: boolean): void {
    this.slots.find((s) => s.name === name)?.gate.setOnline(online)
    const offline = new Set(readOffline())
    if (online) offline.delete(name)
    else offline.add(name)
    // a switched-off client stays off after a reload (to see that its data comes from its own file)
    localStorage.setItem(OFFLINE_KEY, JSON.stringify([...offline]))
    this.publishClients()
  }

  async close(): Promise<void> {
    await this.enqueue(() => this.closeStores())
  }

  private slot(index: number, transport: Transport): ClientSlot {
    const name = CLIENT_NAMES[index]!
    const online = !readOffline().includes(name)
    return this.memoryOnly === undefined
      ? { name, transport, gate: new RemoteGate(name, online), memory: undefined, store: undefined }
      : { name, transport, gate: new NetworkGate(online), memory: makeInMemoryAdapter(), store: undefined }
  }

  private async open(slot: ClientSlot): Promise<void> {
    const { schema, storeId } = this.state
    const source = this.source
    if (schema === undefined || source === undefined) return
    try {
      if (slot.memory !== undefined) {
        const gate = slot.gate as NetworkGate
        slot.store = await createStorePromise({
          schema,
          adapter: slot.memory,
          storeId,
          onError: this.onError,
          sync: { backend: gate.backend(this.syncUrl, slot.transport), onBackendIdMismatch: 'reset' },
        })
      } else {
        // the sync connection is the leader's, in the worker: the worker builds it from workerInput
        const workerInput: ClientWorkerInput = {
          clientName: slot.name,
          schema: source,
          syncUrl: this.syncUrl.href,
          transport: slot.transport,
          online: slot.gate.online,
        }
        slot.store = await createStorePromise({
          schema,
          adapter: makePersistedAdapter({ worker: ClientWorker, localName: slot.name, workerInput }),
          storeId,
          onError: this.onError,
        })
        // the worker's gate listens from its open on: a switch flipped while it started is sent again
        if (slot.gate instanceof RemoteGate) slot.gate.repost()
      }
    } catch (e) {
      slot.store = undefined
      this.set({ error: `Client ${slot.name} could not open store "${storeId}": ${(e as Error)?.message ?? String(e)}` })
    }
  }

  private async closeStores(): Promise<void> {
    const stores = this.slots.map((s) => s.store).filter((s) => s !== undefined)
    for (const slot of this.slots) slot.store = undefined
    await this.unmountStores()
    await Promise.all(stores.map((s) => s.shutdown('the playground is switching schema')))
  }

  /**
   * Stops showing the clients whose store is about to shut down, and lets React commit that
   * first: a view that rendered with a store already shut down would throw on its first query.
   */
  private async unmountStores(): Promise<void> {
    const open = this.state.clients.filter((c) => this.slots.some((s) => s.store === c.store))
    if (open.length === this.state.clients.length) return
    this.set({ clients: open })
    await new Promise((resolve) => setTimeout(resolve, 0))
  }

  private publishClients(): void {
    const clients = this.slots
      .filter((s) => s.store !== undefined)
      .map((s): PlaygroundClient => {
        const store = s.store!
        const storage = store.storageMode === 'opfs' ? 'opfs' : 'in-memory'
        const why = this.memoryOnly ?? 'OPFS is unavailable in the worker'
        return {
          name: s.name,
          transport: s.transport,
          gate: s.gate,
          store,
          storage,
          storageNote: storage === 'opfs' ? undefined : `In memory (${why}): a reload starts this client empty and it pulls the store back from the server.`,
        }
      })
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

function readOffline(): string[] {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(OFFLINE_KEY) ?? '[]')
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
  } catch (e) {
    console.warn(`Ignoring the saved offline switches: ${(e as Error).message}`)
    return []
  }
}

/** Deletes one client's OPFS file and client id; its worker may hold the lock for a moment after shutting down. */
async function resetLocalCopy(storeId: string, localName: string): Promise<void> {
  const deadline = Date.now() + 5000
  for (;;) {
    try {
      await resetPersistence({ storeId, localName })
      return
    } catch (e) {
      if ((e as { code?: string }).code !== 'StoreInUse' || Date.now() > deadline) throw e
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}
