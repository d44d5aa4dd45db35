// The test page: opens a store through @cairn/adapter-web and exposes what the Playwright tests
// drive and observe as `window.app`.
import { createStorePromise, queryDb, type Store } from '@cairn/core'
import { makePersistedAdapter, resetPersistence, type WebLeaderPort } from '@cairn/adapter-web'
import CairnWorker from './cairn.worker.ts?worker'
import CairnSyncWorker from './cairn-sync.worker.ts?worker'
import CairnSyncResetWorker from './cairn-sync-reset.worker.ts?worker'
import CairnFactoryWorker from './cairn-factory.worker.ts?worker'
import TamperWorker from './tamper.worker.ts?worker'
import { events, schema, tables } from './schema.ts'

const todos$ = queryDb({ query: 'SELECT id, text FROM todos ORDER BY id' })

/** Wall-clock ms with sub-ms precision, comparable between tabs of one browser. */
const now = () => performance.timeOrigin + performance.now()

let store: Store<typeof schema> | undefined
let port: WebLeaderPort | undefined
const warnings: string[] = []
const errors: string[] = []
const seen = new Map<string, number>()
const bootStatus: unknown[] = []

/** Local copies of one store id opened side by side (`localName`), by name. */
const locals = new Map<string, Store<typeof schema>>()

const app = {
  warnings,
  errors,
  bootStatus,
  async open(options: { storeId?: string; sync?: boolean | 'reset' } = {}) {
    const worker = options.sync === 'reset' ? CairnSyncResetWorker : options.sync === true ? CairnSyncWorker : CairnWorker
    const base = makePersistedAdapter({ worker, storage: { type: 'opfs' } })
    // keep the port to ask which tab leads
    const adapter = {
      name: base.name,
      openLeader: async (o: Parameters<typeof base.openLeader>[0]) => (port = (await base.openLeader(o)) as WebLeaderPort),
    }
    const started = now()
    const realWarn = console.warn
    console.warn = (...args: unknown[]) => {
      warnings.push(args.map(String).join(' '))
      realWarn(...args)
    }
    store = await createStorePromise({
      schema,
      adapter,
      storeId: options.storeId ?? 'test',
      onError: (e) => errors.push(`${(e as { code?: string }).code ?? ''}: ${(e as Error).message}`),
      onBootStatus: (s) => bootStatus.push(s.stage),
    })
    const bootMs = now() - started
    store.subscribe(todos$, (rows) => {
      const t = now()
      for (const r of rows as { id: string }[]) if (!seen.has(r.id)) seen.set(r.id, t)
    })
    return { storageMode: store.storageMode, clientId: store.clientId, bootMs }
  },
  commit(id: string, text = id) {
    const at = now()
    const handle = need().commit(events.todoCreated({ id, text }))
    handle.persisted.then(
      () => seen.set(`persisted:${id}`, now()),
      (e: unknown) => errors.push(`persisted ${id}: ${(e as Error).message}`),
    )
    return at
  },
  /** Sets the client-only `ui` document (the auto-derived client-only event). */
  setFilter(filter: string) {
    need().commit(tables.ui.set({ filter }))
  },
  filter() {
    return need().query(tables.ui.get()).filter
  },
  /** Drops the event the sync server refused; returns its name and the server's reason. */
  async dropRefused() {
    const refused = need().syncStatus.error?.event
    if (refused === undefined) throw new Error('no refused event')
    await need().dropRefusedEvent(refused.eventId)
    return `${refused.name}: ${refused.reason}`
  },
  async commitPersisted(id: string, text = id) {
    await need().commit(events.todoCreated({ id, text })).persisted
  },
  async commitMany(prefix: string, count: number, perCommit: number) {
    const s = need()
    const started = now()
    const handles = []
    for (let i = 0; i < count; i += perCommit) {
      const batch = []
      for (let k = i; k < Math.min(count, i + perCommit); k++) batch.push(events.todoCreated({ id: `${prefix}${k}`, text: `${k}` }))
      handles.push(s.commit(...batch))
    }
    await Promise.all(handles.map((h) => h.persisted))
    return now() - started
  },
  async confirmed(id: string) {
    const s = need()
    await s.commit(events.todoRenamed({ id, text: `${id}!` })).confirmed
  },
  rows: () => need().query(todos$) as { id: string; text: string }[],
  async log() {
    return (await need().readEventlog()).map((e) => ({
      name: e.name,
      id: (JSON.parse(e.json) as { id: string }).id,
      status: e.status,
      seq: e.seqNum,
    }))
  },
  /** When the row `id` was first seen by this tab's queries (ms, see `now`), waiting for it. */
  async seenAt(id: string, timeoutMs = 10_000): Promise<number> {
    const until = now() + timeoutMs
    while (!seen.has(id)) {
      if (now() > until) throw new Error(`row ${id} not seen within ${timeoutMs} ms; rows: ${JSON.stringify(app.rows().map((r) => r.id))}`)
      await new Promise((r) => setTimeout(r, 2))
    }
    return seen.get(id)!
  },
  isLeader: () => port?.isLeader === true,
  async rematerialize() {
    await need().rematerialize()
  },
  status: () => need().syncStatus,
  shutdownCause: () => store?.shutdownCause ?? null,
  async shutdown() {
    await store?.shutdown()
    store = undefined
  },
  async reset(storeId = 'test') {
    try {
      await resetPersistence({ storeId })
      return 'ok'
    } catch (e) {
      return `${(e as { code?: string }).code}: ${(e as Error).message}`
    }
  },
  /** Opens the local copy `localName` of store `storeId` through the factory worker, naming its schema. */
  async openLocal(localName: string, options: { storeId?: string; schemaName?: string } = {}) {
    try {
      const s = await createStorePromise({
        schema,
        adapter: makePersistedAdapter({ worker: CairnFactoryWorker, localName, workerInput: { schema: options.schemaName ?? 'todos' } }),
        storeId: options.storeId ?? 'shared',
        onError: (e) => errors.push(`${localName}: ${(e as Error).message}`),
      })
      locals.set(localName, s)
      return { storageMode: s.storageMode as string, clientId: s.clientId }
    } catch (e) {
      return { error: `${(e as { code?: string }).code ?? ''}: ${(e as Error).message}` }
    }
  },
  async commitLocal(localName: string, id: string) {
    await locals.get(localName)!.commit(events.todoCreated({ id, text: id })).persisted
  },
  rowsLocal: (localName: string) => (locals.get(localName)!.query(todos$) as { id: string }[]).map((r) => r.id),
  async shutdownLocal(localName: string) {
    await locals.get(localName)?.shutdown()
    locals.delete(localName)
  },
  async resetLocal(storeId: string, localName: string) {
    try {
      await resetPersistence({ storeId, localName })
      return 'ok'
    } catch (e) {
      return `${(e as { code?: string }).code}: ${(e as Error).message}`
    }
  },
  /** The OPFS directories of this origin (one per local copy of a store). */
  async opfsDirectories() {
    const names: string[] = []
    for await (const [name] of (await navigator.storage.getDirectory()) as unknown as AsyncIterable<[string, unknown]>) names.push(name)
    return names.sort()
  },
  /** Sets the store file's format number (the store must be closed in every tab). */
  tamper(storeId: string, userVersion: number): Promise<string> {
    const worker = new TamperWorker()
    return new Promise((resolve) => {
      worker.onmessage = (e: MessageEvent<string>) => {
        worker.terminate()
        resolve(e.data)
      }
      worker.postMessage({ storeId, userVersion })
    })
  },
  /** Opens a store and returns the error it fails with (or 'opened'). */
  async openError(options: { storeId?: string } = {}) {
    try {
      await app.open(options)
      return 'opened'
    } catch (e) {
      return `${(e as { code?: string }).code}: ${(e as Error).message}`
    }
  },
}

function need() {
  if (store === undefined) throw new Error('app.open() first')
  return store
}

;(globalThis as { app?: typeof app }).app = app
export type App = typeof app
