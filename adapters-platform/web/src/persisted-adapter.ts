// The page side: a platform adapter whose leader runs in a Worker (one per tab and store), shared
// with the other tabs of the origin. The session stays in the page, in memory, booted from the
// leader's snapshot: reads are synchronous and commits return at once.
import * as Comlink from 'comlink'
import { CairnError, loadSqlite, MaterializerError, type Adapter, type LeaderMessage, type LeaderPort, type SessionBoot } from '@cairn/core'
import { localKey } from './local-name.ts'
import type { WorkerApi } from './worker.ts'
import { fromWireError, plainHint, plainRecord, unwrap, type StorageMode, type WorkerEvent } from './wire.ts'

/** A worker constructor as Vite's `?worker` import gives it, or a function making one. */
export type WorkerSource = (new (options?: { name?: string }) => Worker) | ((options: { name: string }) => Worker)

export interface PersistedAdapterOptions {
  /**
   * The app's worker file (it calls `makeWorker`), e.g. `import CairnWorker from './cairn.worker.ts?worker'`.
   */
  readonly worker: WorkerSource
  /** Where the leader keeps the store: one SQLite file in the origin private file system. */
  readonly storage?: { readonly type: 'opfs' }
  /**
   * Names this local copy of the store, for several copies of one store id in one origin (e.g.
   * simulated devices side by side): each gets its own OPFS file, leader lock, tab channel and
   * client id, while syncing the same server store. Tabs that pass the same `localName` share it.
   * Default: one local copy per store id.
   *
   * @example
   * makePersistedAdapter({ worker: CairnWorker, localName: 'device-a' }) // file .cairn-todos@device-a
   */
  readonly localName?: string
  /**
   * Handed to the worker's `makeWorker(factory)` when the store opens (structured-cloneable):
   * e.g. a schema's source the page got at run time, or sync settings.
   *
   * @example
   * makePersistedAdapter({ worker: CairnWorker, workerInput: { schemaCode, syncUrl } })
   */
  readonly workerInput?: unknown
}

/** What the web adapter's leader port adds to core's: where the data is, and who leads. */
export interface WebLeaderPort extends LeaderPort {
  readonly storageMode: StorageMode
  /** With a sync backend (configured in the worker), sessions keep undo for rebases. */
  readonly syncing: boolean
  /** This tab's worker hosts the leader (tests, devtools). */
  readonly isLeader: boolean
}

/**
 * The web platform adapter: the leader runs in a dedicated Worker and keeps the eventlog and state
 * in one SQLite file in OPFS (sqlite-wasm `opfs-sahpool`, no COOP/COEP headers needed). Tabs of
 * one origin share one leader, elected with Web Locks; when its tab closes another tab takes over
 * without losing events. Where OPFS is unavailable the leader keeps memory (`storageMode`
 * `'in-memory'`, with a warning).
 *
 * @example
 * import CairnWorker from './cairn.worker.ts?worker'
 * const adapter = makePersistedAdapter({ worker: CairnWorker, storage: { type: 'opfs' } })
 * const store = await createStorePromise({ schema, adapter, storeId: 'todos' })
 */
export function makePersistedAdapter(options: PersistedAdapterOptions): Adapter {
  return {
    name: 'web',
    async openLeader({ storeId, schema, onBootStatus, warn, reportError, sync }) {
      if (sync !== undefined) {
        throw new CairnError(
          'SyncInWorker',
          `Store "${storeId}": with @cairn/adapter-web the sync backend is configured in the worker, where the leader runs: pass sync to makeWorker({ schema, sync }) instead of createStorePromise.`,
        )
      }
      // the session's SQLite loads (and compiles) while the worker boots the leader
      const sessionSqlite = loadSqlite()
      const report = reportError ?? ((e: unknown) => console.error(e))
      const say = warn ?? ((m: string) => console.warn(m))
      const worker = startWorker(options.worker, localKey(storeId, options.localName))
      const remote = Comlink.wrap<WorkerApi>(worker)
      const events = new MessageChannel()
      const listeners = new Set<(message: LeaderMessage) => void>()
      // Messages that arrive before the session subscribed, boot answer or not: the answer and the
      // messages take different ports, so one announced after the snapshot may come first. The
      // session skips what its snapshot holds already.
      let held: LeaderMessage[] | undefined = []
      let clientId = ''
      let storageMode: StorageMode = 'in-memory'
      let isLeader = false
      let closed = false
      worker.addEventListener('error', (e) =>
        report(new CairnError('WorkerFailed', `The Cairn worker of store "${storeId}" failed: ${e.message}`)),
      )
      events.port1.onmessage = (e: MessageEvent<WorkerEvent>) => {
        const event = e.data
        switch (event.type) {
          case 'leader': {
            const message = event.message
            if (message.type !== 'shutdown') clientId = message.status.clientId
            if (held !== undefined) held.push(message)
            else for (const listener of listeners) listener(message)
            return
          }
          case 'warn':
            say(event.text)
            return
          case 'error':
            report(fromWireError(event.error))
            return
          case 'boot':
            onBootStatus?.(event.status)
            return
          case 'role':
            isLeader = event.leader
            return
        }
      }
      let syncing = false
      try {
        const info = unwrap(
          await remote.open(
            {
              storeId,
              stateHash: schema.stateHash,
              storage: 'opfs',
              pageOpfsUnavailable: pageOpfsUnavailable(),
              localName: options.localName,
              workerInput: options.workerInput,
            },
            Comlink.transfer(events.port2, [events.port2]),
          ),
        )
        clientId = info.clientId
        syncing = info.syncing
      } catch (e) {
        worker.terminate()
        throw e
      }
      const port: WebLeaderPort = {
        get clientId() {
          return clientId
        },
        get storageMode() {
          return storageMode
        },
        get syncing() {
          return syncing
        },
        get isLeader() {
          return isLeader
        },
        async boot(): Promise<SessionBoot> {
          const [result] = await Promise.all([remote.boot(), sessionSqlite])
          const boot = unwrap(result)
          storageMode = boot.storageMode
          clientId = boot.clientId
          return boot
        },
        async append(records, commits) {
          const result = unwrap(await remote.append(records.map(plainRecord), commits?.map(plainHint)))
          const failures = result.failures.map((f) => ({
            eventId: f.eventId,
            error: new MaterializerError(records.find((r) => r.eventId === f.eventId)?.name ?? '(unknown)', f.error.message),
          }))
          return { assigned: result.assigned, failures }
        },
        async readLog() {
          return unwrap(await remote.readLog())
        },
        async dropRefusedEvent(eventId) {
          unwrap(await remote.dropRefusedEvent(eventId))
        },
        async rematerialize() {
          unwrap(await remote.rematerialize())
        },
        subscribe(listener) {
          listeners.add(listener)
          const pending = held
          held = undefined
          if (pending !== undefined && pending.length > 0) queueMicrotask(() => pending.forEach((m) => listener(m)))
          return () => listeners.delete(listener)
        },
        async close() {
          if (closed) return
          closed = true
          try {
            await remote.close()
          } finally {
            remote[Comlink.releaseProxy]()
            events.port1.close()
            worker.terminate()
          }
        },
      }
      return port
    },
  }
}

function startWorker(source: WorkerSource, storeId: string): Worker {
  const options = { name: `cairn-${storeId}` }
  try {
    return new (source as new (options: { name: string }) => Worker)(options)
  } catch (e) {
    // a factory function, not a class
    if (e instanceof TypeError) return (source as (options: { name: string }) => Worker)(options)
    throw e
  }
}

/** The page's view: OPFS missing here (e.g. removed, or a browser without it) means missing in workers too. */
function pageOpfsUnavailable(): string | undefined {
  if (typeof navigator === 'undefined' || typeof navigator.storage?.getDirectory !== 'function') {
    return 'navigator.storage.getDirectory is not available'
  }
  return undefined
}
