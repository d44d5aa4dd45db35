import {
  CairnError,
  documentQuery,
  listenable,
  setDocument,
  syncStatus$,
  type ClientDocumentDef,
  type Def,
  type DocumentId,
  type Listenable,
  type Store,
  type SyncStatus,
} from '@cairn/core'
import {
  computed,
  customRef,
  inject,
  onScopeDispose,
  provide,
  ssrContextKey,
  toValue,
  watch,
  type App,
  type InjectionKey,
  type MaybeRefOrGetter,
  type Ref,
  type WritableComputedRef,
} from 'vue'

const StoreKey: InjectionKey<Store<any>> = Symbol('cairn.store')

/**
 * Makes `store` available to `useQuery` and the other composables in this component's subtree.
 *
 * @example
 * provideStore(store)   // in the root component's setup
 */
export function provideStore(store: Store<any>): void {
  provide(StoreKey, store)
}

/**
 * A plugin that provides `store` to the whole app.
 *
 * @example
 * createApp(App).use(storePlugin(store)).mount('#app')
 */
export function storePlugin(store: Store<any>): { install(app: App): void } {
  return { install: (app) => void app.provide(StoreKey, store) }
}

/** The provided store; throws an actionable error when there is none. */
export function useStore(): Store<any> {
  const store = inject(StoreKey, null)
  if (store == null)
    throw new CairnError('NoStore', 'No Cairn store here: call provideStore(store) in a parent component, or app.use(storePlugin(store)).')
  return store
}

/**
 * A read-only ref of a query's result, updated only when the result changed. Takes a definition,
 * or a ref/getter of one for a query that changes. Query errors are thrown on read, to
 * `onErrorCaptured`/`app.config.errorHandler`.
 *
 * @example
 * const todos = useQuery(open$)
 * const filtered = useQuery(() => (showDone.value ? done$ : open$))
 */
export function useQuery<T>(def: MaybeRefOrGetter<Def<T>>): Readonly<Ref<T>> {
  const store = useStore()
  return useListenable(() => listenable(store, toValue(def)))
}

/** A client document as one writable ref per field, ready for `v-model`; writing a field commits it. */
export type ClientDocumentRefs<T> = { readonly [K in keyof T]-?: WritableComputedRef<T[K]> }

/**
 * A client document's fields as writable refs: `v-model="search"` commits the new value.
 *
 * @example
 * const { filter, search } = useClientDocument(tables.ui)
 * filter.value = 'done'
 */
export function useClientDocument<T extends object>(doc: ClientDocumentDef<string, T>, id?: DocumentId): ClientDocumentRefs<T> {
  const store = useStore()
  const value = useListenable(() => listenable(store, documentQuery(doc, id)))
  // a plain object, so spreading it and Object.keys see every field (of the default and the stored value)
  const refs: Record<string, WritableComputedRef<unknown>> = {}
  for (const key of new Set([...Object.keys(doc.defaultValue), ...Object.keys(value.value)]) as Set<keyof T & string>) {
    refs[key] = computed({ get: () => value.value[key], set: (v) => setDocument(store, doc, { [key]: v } as Partial<T>, id) })
  }
  return refs as ClientDocumentRefs<T>
}

/**
 * The store's sync status as a read-only ref.
 *
 * @example
 * const status = useSyncStatus()   // status.value.pending
 */
export function useSyncStatus(): Readonly<Ref<SyncStatus>> {
  return useQuery(syncStatus$)
}

/**
 * The one bridge: a ref that reads through to the listenable (no copy of the state), listens
 * while the current scope lives, and follows `source` when it switches to another query.
 */
function useListenable<T>(source: () => Listenable<T>): Readonly<Ref<T>> {
  const current = computed(source)
  // Server rendering reads once and never disposes a component's scope: a listener would stay for
  // every render. (`inject` is fine here: composables run in setup, where useStore injected too.)
  if (inject(ssrContextKey, null) !== null) return computed(() => current.value.get())
  let stop = () => {}
  const ref = customRef<T>((track, trigger) => {
    watch(current, (l) => (stop(), (stop = l.listen(trigger))), { immediate: true, flush: 'sync' })
    return {
      get: () => (track(), current.value.get()),
      set: () => {
        throw new CairnError('ReadOnlyRef', 'A Cairn query ref is read-only: commit an event to change what it shows.')
      },
    }
  })
  onScopeDispose(() => stop())
  return ref
}
