import {
  CairnError,
  documentQuery,
  listenable,
  setDocument,
  syncStatus$,
  type ClientDocumentDef,
  type Def,
  type DocumentId,
  type DocumentUpdate,
  type Listenable,
  type Store,
  type SyncStatus,
} from '@cairn/core'
import { getContext, setContext } from 'svelte'
import { createSubscriber } from 'svelte/reactivity'
import type { Readable } from 'svelte/store'

/**
 * A query as a Svelte store (`$todos`) that also offers `current` for runes: reading `current` in
 * a template, `$derived` or `$effect` subscribes, and throws query errors to `<svelte:boundary>`.
 */
export interface QueryStore<T> extends Readable<T> {
  readonly current: T
}

/** A client document as a writable store: `set` and `update` merge fields and commit. */
export interface ClientDocumentStore<T> extends QueryStore<T> {
  set(value: Partial<T>): void
  update(updater: (current: T) => Partial<T>): void
}

/**
 * A query of `store` as a Svelte store. For a query that changes, derive the store:
 * `const todos = $derived(queryStore(store, filter === 'done' ? done$ : open$))`.
 *
 * @example
 * const todos = queryStore(store, open$)   // {#each $todos as todo}
 */
export function queryStore<T>(store: Store<any>, def: Def<T>): QueryStore<T> {
  return bridge(listenable(store, def))
}

/**
 * A client document as a writable store.
 *
 * @example
 * const ui = clientDocumentStore(store, tables.ui)
 * ui.set({ filter: 'done' })   // or ui.update((ui) => ({ ... })); read $ui.filter
 */
export function clientDocumentStore<T>(store: Store<any>, doc: ClientDocumentDef<string, T>, id?: DocumentId): ClientDocumentStore<T> {
  const set = (update: DocumentUpdate<T>) => setDocument(store, doc, update, id)
  return Object.assign(bridge(listenable(store, documentQuery(doc, id))), { set, update: set })
}

/**
 * The sync status as a store.
 *
 * @example
 * const status = syncStatusStore(store)   // {$status.pending} pending
 */
export function syncStatusStore(store: Store<any>): QueryStore<SyncStatus> {
  return queryStore(store, syncStatus$)
}

const key = Symbol('cairn.store')

/**
 * Makes `store` available to `getStoreContext()` in this component's children.
 *
 * @example
 * setStoreContext(store)   // in the root component's <script>
 */
export function setStoreContext(store: Store<any>): Store<any> {
  return setContext(key, store)
}

/**
 * The context that holds `store`, for `mount`'s `context` option at the root of an app.
 *
 * @example
 * mount(App, { target, context: storeContext(store) })   // App calls getStoreContext()
 */
export function storeContext(store: Store<any>): Map<unknown, unknown> {
  return new Map([[key, store]])
}

/** The store set by a parent's `setStoreContext` (or `storeContext`); throws an actionable error when there is none. */
export function getStoreContext(): Store<any> {
  const store = getContext<Store<any> | undefined>(key)
  if (store === undefined) throw new CairnError('NoStore', 'No Cairn store here: call setStoreContext(store) in a parent component.')
  return store
}

/** The one bridge: a listenable already is a Svelte store; `current` adds the runes reading. */
function bridge<T>(l: Listenable<T>): QueryStore<T> {
  const track = createSubscriber((update) => l.listen(update))
  return {
    subscribe: l.subscribe,
    get current() {
      track()
      return l.get()
    },
  }
}
