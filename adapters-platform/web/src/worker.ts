// `@cairn/adapter-web/worker`: the entry of the app's worker file. Each tab starts one such
// worker per store; the one whose tab wins the election hosts the leader, the others pass their
// session's calls on to it.
import * as Comlink from 'comlink'
import { loadSqlite, type CommitHint, type EventRecord, type LogEntry, type Schema, type SyncOptions } from '@cairn/core'
import { loadClientId, saveClientId } from './client-id.ts'
import { LeaderHost, type WireAppendResult, type WireBoot } from './leader-host.ts'
import { localKey } from './local-name.ts'
import { opfsUnavailable } from './opfs-storage.ts'
import { randomId, TabRouter } from './tab-router.ts'
import { toResult, toWireError, type Result, type StorageMode, type WorkerEvent } from './wire.ts'

export interface WorkerOptions {
  readonly schema: Schema
  /**
   * Sync with a server. The connection lives in the leader's worker: N tabs make one connection.
   *
   * @example
   * sync: { backend: makeWsSync({ url: `${location.origin.replace('http', 'ws')}/sync`, getAuthToken }) }
   */
  readonly sync?: SyncOptions
}

/**
 * Makes the worker's options when the page opens a store, from the page's `workerInput` (see
 * `makePersistedAdapter`): for a schema or sync settings known only at run time.
 */
export type WorkerOptionsFactory = (input: unknown) => WorkerOptions | Promise<WorkerOptions>

export interface OpenRequest {
  readonly storeId: string
  /** The page's schema, to refuse a worker built with another one. */
  readonly stateHash: string
  readonly storage: 'opfs'
  /** Why the page found OPFS unavailable (then the leader keeps memory), or undefined. */
  readonly pageOpfsUnavailable: string | undefined
  /** `makePersistedAdapter({ localName })`: which local copy of the store (file, lock, channel, client id). */
  readonly localName?: string | undefined
  /** `makePersistedAdapter({ workerInput })`, for a `makeWorker(factory)`. */
  readonly workerInput?: unknown
}

export interface OpenInfo {
  readonly clientId: string
  readonly syncing: boolean
}

/** What the page calls on its worker (through comlink). */
export interface WorkerApi {
  open(request: OpenRequest, events: MessagePort): Promise<Result<OpenInfo>>
  boot(): Promise<Result<WireBoot>>
  append(records: readonly EventRecord[], hints: readonly CommitHint[] | undefined): Promise<Result<WireAppendResult>>
  readLog(): Promise<Result<LogEntry[]>>
  dropRefusedEvent(eventId: string): Promise<Result<void>>
  rematerialize(): Promise<Result<void>>
  close(): Promise<void>
}

/**
 * Makes this worker serve Cairn stores of `schema` to the page that started it. Call it once,
 * at the top of the worker file.
 *
 * Instead of fixed options it takes a factory, called once when the page opens the store, with
 * the `workerInput` the page passed to `makePersistedAdapter` (any structured-cloneable value):
 * for a schema the page gets at run time, or per-store sync settings. The page's schema and the
 * factory's must still have the same state hash.
 *
 * @example
 * // cairn.worker.ts
 * import { makeWorker } from '@cairn/adapter-web/worker'
 * import { schema } from './schema.ts'
 * makeWorker({ schema, sync: { backend: makeWsSync({ url: 'wss://sync.example.com', getAuthToken }) } })
 *
 * @example
 * // a worker whose schema the page names: makePersistedAdapter({ worker, workerInput: { schema: 'v2' } })
 * makeWorker(async (input) => ({ schema: await loadSchema((input as { schema: string }).schema) }))
 */
export function makeWorker(optionsOrFactory: WorkerOptions | WorkerOptionsFactory): void {
  // compiling sqlite-wasm takes a while: start now, before the page asks for a store
  loadSqlite().catch((e: unknown) => console.error('Cairn: sqlite-wasm failed to load in the worker', e))
  let router: TabRouter | undefined
  const api: WorkerApi = {
    async open(request, events) {
      return toResult(async () => {
        if (router !== undefined) throw new Error('This worker serves a store already: start one worker per store.')
        const options = await workerOptions(optionsOrFactory, request)
        if (request.stateHash !== options.schema.stateHash) {
          throw new Error(
            `Store "${request.storeId}": the worker was built with (or its factory made) another schema than the page (state hash ${options.schema.stateHash} vs ${request.stateHash}). Pass the same schema to makeWorker and createStorePromise.`,
          )
        }
        const emit = (event: WorkerEvent) => events.postMessage(event)
        const key = localKey(request.storeId, request.localName)
        const clientId = await loadClientId(key, randomId(6))
        router = new TabRouter(
          key,
          async (log) => {
            const unavailable = request.pageOpfsUnavailable ?? (await opfsUnavailable())
            const storage: StorageMode = unavailable === undefined ? 'opfs' : 'in-memory'
            if (unavailable !== undefined) {
              log({
                type: 'warn',
                text: `Cairn: OPFS is unavailable here (${unavailable}), so store "${request.storeId}" keeps its data in memory (storageMode 'in-memory'): closing the last tab or reloading loses every event not yet synced to a server. Private windows of some browsers disable OPFS.`,
              })
            }
            const host = await LeaderHost.open({
              storeId: request.storeId,
              localKey: key,
              schema: options.schema,
              sync: options.sync,
              storage,
              clientId: await loadClientId(key, clientId),
              warn: (text) => log({ type: 'warn', text }),
              reportError: (e) => log({ type: 'error', error: toWireError(e) }),
              // every tab's onBootStatus: a rebuild one tab asked for keeps them all waiting
              onBootStatus: (status) => log({ type: 'boot', status }),
            })
            let savedClientId = host.clientId
            if (savedClientId !== clientId) await saveClientId(key, savedClientId)
            host.subscribe((m) => {
              // a client id collision on the server gave the leader a new id: keep it for next time
              const id = m.type === 'shutdown' ? savedClientId : m.status.clientId
              if (id !== savedClientId) {
                savedClientId = id
                saveClientId(key, id).catch((e: unknown) => log({ type: 'error', error: toWireError(e) }))
              }
            })
            return host
          },
          emit,
        )
        router.start()
        return { clientId, syncing: options.sync !== undefined }
      })
    },
    async boot() {
      const result = await route().call('boot')
      return result.ok ? Comlink.transfer(result, [result.value.snapshot.buffer]) : result
    },
    append: (records, hints) => route().call('append', [records, hints]),
    readLog: () => route().call<LogEntry[]>('readLog'),
    dropRefusedEvent: (eventId) => route().call<void>('dropRefusedEvent', [eventId]),
    rematerialize: () => route().call<void>('rematerialize'),
    async close() {
      await router?.close()
    },
  }
  const route = (): TabRouter => {
    if (router === undefined) throw new Error('open() first')
    return router
  }
  Comlink.expose(api)
}

async function workerOptions(optionsOrFactory: WorkerOptions | WorkerOptionsFactory, request: OpenRequest): Promise<WorkerOptions> {
  if (typeof optionsOrFactory === 'function') return optionsOrFactory(request.workerInput)
  if (request.workerInput !== undefined) {
    throw new Error(
      `Store "${request.storeId}": the page passed workerInput, but this worker's makeWorker got fixed options and would ignore it. Pass a factory, makeWorker((input) => ({ schema, sync })), or leave workerInput out.`,
    )
  }
  return optionsOrFactory
}
