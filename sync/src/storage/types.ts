import type { ServerEvent, WireEvent } from '@cairn/core'

/** An event as the server stores and sends it: stamped with the principal that pushed it. */
export interface StoredEvent extends ServerEvent {
  /** Who pushed it, as `authorize` said (never what the client claimed); absent when the server has no auth. */
  readonly principal?: string
}

export interface StoreInfo {
  /** Changes when the store is wiped, so clients can tell their history is gone. */
  readonly backendId: string
  readonly head: number
}

export interface AppendResult {
  /** The number of each pushed event, in order (the earlier number for a re-sent event). */
  readonly assigned: readonly number[]
  /** How many events were new. */
  readonly appended: number
  readonly head: number
}

export interface StoredPage {
  /** Events after the cursor up to the next page boundary (a multiple of the page size), ascending. */
  readonly events: readonly StoredEvent[]
  readonly head: number
  readonly remaining: number
}

/**
 * Where a sync server keeps its stores. One log per store, numbered 1, 2, 3… without gaps. An
 * append is atomic and durable when its promise resolves (the server acks only then), and follows
 * the append rules of `MemorySyncStore` in `@cairn/core/testing` (see `planAppend`).
 */
export interface SyncStorage {
  /** The store's backendId and head; creates the store (with a fresh backendId) the first time. */
  info(storeId: string): Promise<StoreInfo>
  /** Appends a push, all or nothing; rejects with `SyncError` `ClientIdCollision` or `ProducerGap`. */
  append(storeId: string, events: readonly WireEvent[], principal: string | undefined): Promise<AppendResult>
  /** One catch-up page after `after`, cut at the next multiple of `pageSize`. */
  page(storeId: string, after: number, pageSize: number): Promise<StoredPage>
  /**
   * Storages shared by several server nodes (PostgreSQL): calls `onHead` when the store's head
   * moved through another node (`-1`: it was wiped), so the server wakes the store's subscribers.
   * The server follows a store while it has subscribers; returns the unfollow. A single-node
   * storage leaves it out: the server sees every append itself.
   */
  follow?(storeId: string, onHead: (head: number) => void): () => void
  /** Deletes the store: it comes back empty with a new backendId. */
  wipe(storeId: string): Promise<void>
  close(): Promise<void>
}
