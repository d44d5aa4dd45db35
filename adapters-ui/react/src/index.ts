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
  type Schema,
  type Store,
  type SyncStatus,
} from '@cairn/core'
import { createContext, createElement, useCallback, useContext, useEffect, useSyncExternalStore, type ReactNode } from 'react'
import { storeResource, type StoreOptions } from './store-resource.ts'

const StoreContext = createContext<Store<any> | null>(null)

/**
 * Makes `store` available to `useStore`, `useQuery` and the other hooks below it.
 *
 * @example
 * <StoreProvider store={store}><App /></StoreProvider>
 */
export function StoreProvider(props: { store: Store<any>; children?: ReactNode }) {
  return createElement(StoreContext.Provider, { value: props.store }, props.children)
}

/**
 * The store of the nearest `StoreProvider`; or, given options, a store created for them that
 * suspends (Suspense) until it is ready and is shut down once no mounted component uses it.
 *
 * @example
 * const store = useStore({ schema, adapter, storeId: 'todos' })   // inside <Suspense>
 */
export function useStore<S extends Schema = Schema>(options?: StoreOptions<S>): Store<S> {
  const provided = useContext(StoreContext)
  const resource = options === undefined ? undefined : storeResource(options)
  useEffect(() => resource?.retain(), [resource])
  if (resource !== undefined) return resource.read()
  if (provided === null) {
    throw new CairnError('NoStore', 'No Cairn store here: wrap the component in <StoreProvider store={store}>, or call useStore(options).')
  }
  return provided as Store<S>
}

/**
 * The current result of a query; the component re-renders only when the result changed.
 * Query errors are thrown during render, to the nearest error boundary.
 *
 * @example
 * const todos = useQuery(open$)
 */
export function useQuery<T>(def: Def<T>): T {
  return useListenable(listenable(useStore(), def))
}

/**
 * A client document's value and its setter, which merges fields or takes an updater.
 *
 * @example
 * const [ui, setUi] = useClientDocument(tables.ui)
 * setUi((ui) => ({ filter: ui.filter === 'all' ? 'done' : 'all' }))
 */
export function useClientDocument<T>(doc: ClientDocumentDef<string, T>, id?: DocumentId): [T, (update: DocumentUpdate<T>) => void] {
  const store = useStore()
  const value = useListenable(listenable(store, documentQuery(doc, id)))
  return [value, useCallback((update: DocumentUpdate<T>) => setDocument(store, doc, update, id), [store, doc, id])]
}

/**
 * The store's sync status, re-rendering when it changes.
 *
 * @example
 * const { pending, connected } = useSyncStatus()
 */
export function useSyncStatus(): SyncStatus {
  return useQuery(syncStatus$)
}

/** The one bridge: React reads `get` during render (also on the server) and re-renders on `listen`. */
function useListenable<T>(l: Listenable<T>): T {
  return useSyncExternalStore(l.listen, l.get, l.get)
}

export type { StoreOptions }
