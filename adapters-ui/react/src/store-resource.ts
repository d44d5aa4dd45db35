import { createStorePromise, type CreateStoreOptions, type Schema, type Store } from '@cairn/core'

export type StoreOptions<S extends Schema = Schema> = CreateStoreOptions<S>

/** A store being created for `useStore(options)`, shared by the components that ask for it. */
export interface StoreResource<S extends Schema> {
  /** The store, or throws the pending promise (Suspense) or the creation error. */
  read(): Store<S>
  /** Marks a mounted user; the returned function releases it. */
  retain(): () => void
}

// Suspense throws away the state of a component that suspends before it mounts, so the
// pending store lives here, keyed by the schema object and the storeId. It leaves the cache
// when its last user unmounts (the store is shut down) or when creating it failed. A store that
// nothing mounted within UNCLAIMED_MS of being ready (or of its last read) is shut down too: its
// Suspense boundary went away while it was created.
const UNCLAIMED_MS = 1_000
const resources = new WeakMap<Schema, Map<string, StoreResource<any>>>()

export function storeResource<S extends Schema>(options: StoreOptions<S>): StoreResource<S> {
  let byId = resources.get(options.schema)
  if (byId === undefined) resources.set(options.schema, (byId = new Map()))
  const id = options.storeId
  let resource = byId.get(id) as StoreResource<S> | undefined
  if (resource === undefined) {
    const created = create(options, () => byId.get(id) === created && byId.delete(id))
    byId.set(id, (resource = created))
  }
  return resource
}

function create<S extends Schema>(options: StoreOptions<S>, forget: () => void): StoreResource<S> {
  let store: Store<S> | undefined
  let error: unknown
  let users = 0
  let unclaimed: ReturnType<typeof setTimeout> | undefined
  const release = () => {
    forget()
    promise.then(() => store?.shutdown()).catch(options.onError ?? console.error)
  }
  // restarted by every read: a read is a render about to mount
  const watchUnclaimed = () => {
    clearTimeout(unclaimed)
    unclaimed = setTimeout(() => users === 0 && release(), UNCLAIMED_MS)
  }
  const promise = createStorePromise(options).then(
    (s) => void ((store = s), watchUnclaimed()),
    (e) => {
      error = e
      forget() // the next attempt (after an error boundary reset) starts over
    },
  )
  return {
    read() {
      if (store === undefined) throw error ?? promise
      if (users === 0) watchUnclaimed()
      return store
    },
    retain() {
      users++
      clearTimeout(unclaimed)
      return () => {
        users--
        // a microtask later: StrictMode unmounts and remounts at once, which must not shut down
        queueMicrotask(() => users === 0 && release())
      }
    },
  }
}
