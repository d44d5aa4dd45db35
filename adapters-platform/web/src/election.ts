// Leader election between the tabs of one origin: the worker holding the store's Web Lock leads.
// The browser releases the lock when the holder's tab closes or crashes, and grants it to the
// next waiting worker, so there is at most one leader and, while any tab is open, one more.

export interface Election {
  /** Gives up leading (or waiting to lead): the lock goes to the next waiting tab. */
  resign(): void
}

/**
 * Waits for the store's lock, then calls `lead` and holds the lock until `resign()`. Web Locks
 * are per origin, like OPFS: every tab of the app competes.
 */
export function elect(storeId: string, lead: () => void, onError: (error: unknown) => void): Election {
  const abort = new AbortController()
  let release: (() => void) | undefined
  const released = new Promise<void>((resolve) => (release = resolve))
  navigator.locks
    .request(`cairn-leader:${storeId}`, { signal: abort.signal }, () => {
      lead()
      return released
    })
    .catch((e: unknown) => {
      // resigning while waiting aborts the request: that is not a failure
      if (!(e instanceof DOMException && e.name === 'AbortError')) onError(e)
    })
  return {
    resign() {
      abort.abort()
      release?.()
    },
  }
}
