/**
 * Serialized pull pages, keyed by store and cursor, bounded in bytes over all stores. A store's
 * pages are dropped at every append to it (they end at the old head); when the cache is over its
 * budget the least recently used stores go first, so stores nobody reads any more do not stay.
 */
export class PageCache<T extends { readonly bytes: number }> {
  /** Map order is recency order: a store read again moves to the end. */
  private readonly stores = new Map<string, Map<number, { page: Promise<T>; bytes: number }>>()
  private total = 0

  constructor(
    private readonly maxBytes: number,
    /** Distinct cursors kept per store; more than that and the store's pages are dropped (caching them is not worth it). */
    private readonly maxPerStore = 256,
  ) {}

  get bytes(): number {
    return this.total
  }

  get size(): number {
    let n = 0
    for (const pages of this.stores.values()) n += pages.size
    return n
  }

  get storeCount(): number {
    return this.stores.size
  }

  /** The cached page of (store, after), or the one `build` makes (a failed build is not kept). */
  get(storeId: string, after: number, build: () => Promise<T>): Promise<T> {
    let pages = this.stores.get(storeId)
    if (pages !== undefined) {
      this.stores.delete(storeId)
      this.stores.set(storeId, pages)
      const hit = pages.get(after)
      if (hit !== undefined) return hit.page
      if (pages.size >= this.maxPerStore) this.drop(storeId)
    }
    pages = this.stores.get(storeId)
    if (pages === undefined) this.stores.set(storeId, (pages = new Map()))
    const entry = { page: build(), bytes: 0 }
    pages.set(after, entry)
    const current = pages
    entry.page.then(
      (page) => {
        if (current.get(after) !== entry) return // dropped meanwhile
        entry.bytes = page.bytes
        this.total += page.bytes
        this.evict()
      },
      // the caller gets the rejection; only the cache forgets the entry
      () => {
        if (current.get(after) === entry) current.delete(after)
      },
    )
    return entry.page
  }

  /** Forgets a store's pages (after an append or a wipe). */
  drop(storeId: string): void {
    const pages = this.stores.get(storeId)
    if (pages === undefined) return
    for (const entry of pages.values()) this.total -= entry.bytes
    this.stores.delete(storeId)
  }

  private evict(): void {
    for (const storeId of this.stores.keys()) {
      if (this.total <= this.maxBytes) return
      this.drop(storeId)
    }
  }
}
