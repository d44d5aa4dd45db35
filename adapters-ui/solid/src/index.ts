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
import {
  createComponent,
  createComputed,
  createContext,
  createMemo,
  createSignal,
  onCleanup,
  useContext,
  type Accessor,
  type JSX,
} from 'solid-js'

const StoreContext = createContext<Store<any>>()

/**
 * Makes `store` available to `useQuery` and the other primitives below it.
 *
 * @example
 * <StoreProvider store={store}><App /></StoreProvider>
 */
export function StoreProvider(props: { store: Store<any>; children?: JSX.Element }): JSX.Element {
  return createComponent(StoreContext.Provider, {
    get value() {
      return props.store
    },
    get children() {
      return props.children
    },
  })
}

/** The store of the nearest `StoreProvider`; throws an actionable error when there is none. */
export function useStore(): Store<any> {
  const store = useContext(StoreContext)
  if (store === undefined) throw new CairnError('NoStore', 'No Cairn store here: wrap the component in <StoreProvider store={store}>.')
  return store
}

/**
 * An accessor of a query's result that notifies only when the result changed. Takes a
 * definition or an accessor of one (a query that changes). Query errors are thrown on read, to
 * the nearest `<ErrorBoundary>`.
 *
 * @example
 * const todos = useQuery(open$)            // <For each={todos()}>
 * const shown = useQuery(() => (showDone() ? done$ : open$))
 */
export function useQuery<T>(def: Def<T> | Accessor<Def<T>>): Accessor<T> {
  const store = useStore()
  return useListenable(() => listenable(store, typeof def === 'function' ? def() : def))
}

/**
 * A client document's value and its setter (merges fields, or takes an updater), like `createSignal`.
 *
 * @example
 * const [ui, setUi] = useClientDocument(tables.ui)
 * setUi((ui) => ({ filter: ui.filter === 'all' ? 'done' : 'all' }))
 */
export function useClientDocument<T>(
  doc: ClientDocumentDef<string, T>,
  id?: DocumentId,
): [Accessor<T>, (update: DocumentUpdate<T>) => void] {
  const store = useStore()
  return [useListenable(() => listenable(store, documentQuery(doc, id))), (update) => setDocument(store, doc, update, id)]
}

/**
 * The store's sync status as an accessor.
 *
 * @example
 * const status = useSyncStatus()   // status().pending
 */
export function useSyncStatus(): Accessor<SyncStatus> {
  return useQuery(syncStatus$)
}

/**
 * The one bridge: an accessor that reads through to the listenable (no copy of the state),
 * listens while the owner lives, and follows `source` when it switches to another query.
 */
function useListenable<T>(source: () => Listenable<T>): Accessor<T> {
  const current = createMemo(source)
  const [changed, notify] = createSignal(undefined, { equals: false })
  createComputed(() => onCleanup(current().listen(() => notify())))
  return () => (changed(), current().get())
}
