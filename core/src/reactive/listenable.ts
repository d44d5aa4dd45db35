import { deepEqual } from './equal.ts'
import { LruMap } from './lru-map.ts'
import { queryDb, type Def, type LiveQueryDef } from './query-def.ts'
import type { ClientDocumentDef, DocumentId } from '../schema/client-document.ts'
import type { Store } from '../session/store.ts'

/**
 * The contract UI adapters bridge to their framework: a synchronous `get()` that returns the same
 * reference while the result is unchanged, and `listen`/`subscribe` that start the query on the
 * first listener and release it after the last (lazy start/stop).
 *
 * `subscribe` follows Svelte's store contract (called now, then on every change), so a
 * listenable *is* a Svelte store; `listen` only calls on changes (React's `useSyncExternalStore`).
 */
export interface Listenable<T> {
  /** The current result; throws the query's error (a `QueryError`) while the query fails. */
  get(): T
  /** Calls `listener` after each change of the result (or of its error). Returns the unsubscriber. */
  listen(listener: () => void): () => void
  /** Calls `run` with the current result now and after each change. Returns the unsubscriber. */
  subscribe(run: (value: T) => void): () => void
}

/**
 * The listenable of `def` in `store`. One per store and definition (keyed by object identity), so
 * every component using a query shares one subscription and one graph instance.
 *
 * @example
 * const todos = listenable(store, open$)
 * const stop = todos.listen(() => render(todos.get()))
 */
export function listenable<T>(store: Store<any>, def: Def<T>): Listenable<T> {
  let byDef = cache.get(store)
  if (byDef === undefined) cache.set(store, (byDef = new WeakMap()))
  let found = byDef.get(def) as Listenable<T> | undefined
  if (found === undefined) byDef.set(def, (found = create(store, def)))
  return found
}

/**
 * The query of a client document's value, one per document and id, so components reading the
 * same document share one query instance.
 *
 * @example
 * store.subscribe(documentQuery(tables.ui), (ui) => console.log(ui.filter))
 */
export function documentQuery<T>(doc: ClientDocumentDef<string, T>, id: DocumentId = doc.defaultId): LiveQueryDef<T> {
  let byId = documents.get(doc)
  if (byId === undefined) documents.set(doc, (byId = new LruMap(DOCUMENT_IDS_KEPT)))
  let def = byId.get(id) as LiveQueryDef<T> | undefined
  if (def === undefined) byId.set(id, (def = queryDb(doc.get(id), { label: `${doc.name}.get(${String(id)})` }) as LiveQueryDef<T>))
  return def
}

/** A new value for a client document: fields to merge, or a function of the current value. */
export type DocumentUpdate<T> = Partial<T> | ((current: T) => Partial<T>)

/**
 * Commits an update of a client document. An updater function receives the store's current value
 * (not a possibly stale rendered one).
 *
 * @example
 * setDocument(store, tables.ui, (ui) => ({ filter: ui.filter === 'all' ? 'done' : 'all' }))
 */
export function setDocument<T>(
  store: Store<any>,
  doc: ClientDocumentDef<string, T>,
  update: DocumentUpdate<NoInfer<T>>,
  id?: DocumentId,
): void {
  const value = typeof update === 'function' ? update(store.query(documentQuery(doc, id))) : update
  store.commit(doc.set(value, id))
}

const cache = new WeakMap<Store<any>, WeakMap<Def<any>, Listenable<unknown>>>()
// per document, the definitions of its recently used ids (ids can come from app data)
const DOCUMENT_IDS_KEPT = 1_000
const documents = new WeakMap<ClientDocumentDef<string, any>, LruMap<DocumentId, LiveQueryDef<unknown>>>()
const NONE = Symbol('none')

function create<T>(store: Store<any>, def: Def<T>): Listenable<T> {
  const listeners = new Set<() => void>()
  let stop: (() => void) | undefined
  // The last result handed out. Kept while nobody listens, so a re-run that returns equal data
  // (a remount, a read before the first subscription) keeps the reference adapters rendered.
  let last: T | typeof NONE = NONE
  let error: unknown = NONE

  const keep = (value: T): T => (last !== NONE && deepEqual(last, value) ? last : (last = value))
  const emit = () => {
    let first: unknown = NONE
    for (const listener of [...listeners]) {
      try {
        listener()
      } catch (e) {
        // a throwing listener must not starve the others
        if (first === NONE) first = e
      }
    }
    if (first !== NONE) throw first
  }
  const get = (): T => {
    if (stop === undefined) return keep(store.query(def))
    if (error !== NONE) throw error
    return last as T
  }
  const listen = (listener: () => void) => {
    // a wrapper, so the same function may listen twice and unsubscribe once per call
    const entry = () => listener()
    listeners.add(entry)
    if (stop === undefined) {
      let changed = false
      let starting = true
      stop = store.subscribe(
        def,
        (value) => {
          const before = last
          const failed = error !== NONE
          error = NONE
          // Once running, the graph only calls with a new result (an equal re-run keeps its
          // reference), so only the first result needs comparing with the one handed out.
          const kept = starting ? keep(value) : (last = value)
          changed = (before !== NONE && kept !== before) || failed
          if (!starting && changed) emit()
        },
        {
          onError: (e) => {
            error = e
            if (!starting) emit()
          },
        },
      )
      starting = false
      // The first result arrives during store.subscribe, before `stop` is set. Tell listeners
      // only if it differs from what was handed out before (a commit between render and mount).
      if (changed || error !== NONE) emit()
    }
    return () => {
      if (!listeners.delete(entry) || listeners.size > 0 || stop === undefined) return
      const unsubscribe = stop
      stop = undefined
      error = NONE
      if (!store.isShutdown) unsubscribe()
    }
  }
  const subscribe = (run: (value: T) => void) => {
    run(get())
    return listen(() => run(get()))
  }
  return { get, listen, subscribe }
}
