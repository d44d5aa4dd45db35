import type pg from 'pg'

/** A store's head as read from PostgreSQL; no row: the store was wiped and not used since. */
export interface HeadRow {
  readonly store_id: string
  readonly backend_id: string
  readonly head: number
}

export interface HeadWatcherOptions {
  /** A new, unconnected client for the LISTEN connection. */
  readonly newClient: () => pg.Client
  readonly channel: string
  readonly escapeIdentifier: (s: string) => string
  /** The safety poll's period while LISTEN works (it is at most 1 s while LISTEN is down). */
  readonly pollMs: number
  readonly readHeads: (storeIds: readonly string[]) => Promise<readonly HeadRow[]>
  readonly log: (message: string) => void
}

export interface HeadWatcherStats {
  /** NOTIFY payloads received (this node's own included). */
  notifications: number
  /** Times the LISTEN connection was lost, and re-established. */
  listenLost: number
  listenRestored: number
  /** Safety polls run, and the heads they found that no notification had told (catch-ups). */
  polls: number
  caughtUp: number
}

interface Known {
  head: number | undefined
  backendId: string | undefined
  readonly listeners: Set<(head: number) => void>
  /** Set while the store has no listener left: it is forgotten when this fires. */
  linger: ReturnType<typeof setTimeout> | undefined
}

/** A store stays followed this long after its last listener left (long-polls leave and come back). */
const LINGER_MS = 30_000

/**
 * Tells followers when another node moved a store's head. NOTIFY is only a hint: notifications
 * are lost while the LISTEN connection is down, so every (re)connect LISTENs first and then
 * re-reads the heads of every followed store, and a slow safety poll re-reads them all the time.
 * A head is reported when it is higher than the last one known, `-1` when the store was wiped.
 */
export class HeadWatcher {
  readonly stats: HeadWatcherStats = { notifications: 0, listenLost: 0, listenRestored: 0, polls: 0, caughtUp: 0 }
  private readonly followed = new Map<string, Known>()
  private client: pg.Client | undefined
  private listening = false
  private closed = false
  private pollTimer: ReturnType<typeof setTimeout> | undefined
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined
  private reconnectAttempts = 0
  private polling: Promise<void> | undefined
  private pollFailing = false
  /** Wipes made by this node whose `-1` echo is still to come. */
  private readonly ownWipes = new Map<string, number>()

  constructor(private readonly options: HeadWatcherOptions) {}

  /** LISTENs; resolves once it does (the storage serves no read before that). */
  async start(): Promise<void> {
    await this.connect()
    this.schedulePoll()
  }

  get isListening(): boolean {
    return this.listening
  }

  /** Calls `onHead` when the store's head moves on another node; returns the unfollow. */
  follow(storeId: string, onHead: (head: number) => void): () => void {
    let known = this.followed.get(storeId)
    if (known === undefined) {
      this.followed.set(storeId, (known = { head: undefined, backendId: undefined, listeners: new Set(), linger: undefined }))
      // a head moved through another node between the follower's last read and now was told to
      // nobody here: read it at once instead of at the next poll
      this.readNow(storeId)
    } else if (known.head !== undefined) {
      // the head is known (followed meanwhile): the follower compares it with what it read
      const head = known.head
      queueMicrotask(() => known!.listeners.has(onHead) && onHead(head))
    }
    clearTimeout(known.linger)
    known.linger = undefined
    known.listeners.add(onHead)
    const entry = known
    return () => {
      entry.listeners.delete(onHead)
      if (entry.listeners.size > 0 || this.followed.get(storeId) !== entry || this.closed) return
      entry.linger = setTimeout(() => {
        if (entry.listeners.size === 0 && this.followed.get(storeId) === entry) this.followed.delete(storeId)
      }, LINGER_MS)
      entry.linger.unref()
    }
  }

  private readNow(storeId: string): void {
    this.options.readHeads([storeId]).then(
      (rows) => {
        const row = rows[0]
        if (row !== undefined) this.report(row.store_id, row.head, row.backend_id, false)
      },
      (e: Error) => this.options.log(`postgresStorage: reading the head of "${storeId}" failed (${e.message}); the poll retries`),
    )
  }

  /** A head this node committed: its own NOTIFY echo is then no news. */
  committed(storeId: string, head: number): void {
    const known = this.followed.get(storeId)
    if (known !== undefined && (known.head === undefined || head > known.head)) known.head = head
  }

  /** This node wiped the store (its service already told its listeners). */
  wiped(storeId: string): void {
    this.ownWipes.set(storeId, (this.ownWipes.get(storeId) ?? 0) + 1)
    const known = this.followed.get(storeId)
    if (known !== undefined) {
      known.head = 0
      known.backendId = undefined
    }
  }

  async close(): Promise<void> {
    this.closed = true
    for (const known of this.followed.values()) clearTimeout(known.linger)
    clearTimeout(this.pollTimer)
    clearTimeout(this.reconnectTimer)
    await this.polling
    const client = this.client
    this.client = undefined
    this.listening = false
    await client?.end()
  }

  private async connect(): Promise<void> {
    const client = this.options.newClient()
    client.on('notification', (n) => {
      if (n.channel === this.options.channel && n.payload !== undefined) this.onPayload(n.payload)
    })
    client.on('error', (e) => this.lost(client, e))
    client.on('end', () => this.lost(client, undefined))
    this.client = client
    await client.connect()
    await client.query(`LISTEN ${this.options.escapeIdentifier(this.options.channel)}`)
    if (this.client !== client) return // lost meanwhile: the reconnect takes over
    this.listening = true
  }

  private lost(client: pg.Client, error: Error | undefined): void {
    if (this.client !== client || this.closed) return
    this.client = undefined
    this.listening = false
    this.stats.listenLost++
    this.options.log(`postgresStorage: the LISTEN connection dropped (${error?.message ?? 'closed'}); reconnecting, polling meanwhile`)
    client.end().catch((e: Error) => this.options.log(`postgresStorage: closing the dropped LISTEN connection: ${e.message}`))
    this.reconnectAttempts = 0
    this.scheduleReconnect()
    this.schedulePoll()
  }

  private scheduleReconnect(): void {
    if (this.closed) return
    const delay = Math.min(5_000, 100 * 2 ** this.reconnectAttempts++)
    clearTimeout(this.reconnectTimer)
    this.reconnectTimer = setTimeout(() => {
      this.connect().then(
        () => {
          if (this.closed || !this.listening) return
          this.stats.listenRestored++
          this.options.log('postgresStorage: LISTEN restored; catching up')
          // what was committed while nobody listened: read every followed head now
          this.schedulePoll(0)
        },
        (e: Error) => {
          const client = this.client
          this.client = undefined
          client
            ?.end()
            .catch((closeError: Error) => this.options.log(`postgresStorage: closing a failed LISTEN connection: ${closeError.message}`))
          if (this.reconnectAttempts === 1 || this.reconnectAttempts % 10 === 0)
            this.options.log(`postgresStorage: LISTEN reconnect failed (${e.message}); trying again`)
          this.scheduleReconnect()
        },
      )
    }, delay)
    this.reconnectTimer.unref()
  }

  private schedulePoll(delay = this.listening ? this.options.pollMs : Math.min(this.options.pollMs, 1_000)): void {
    if (this.closed) return
    clearTimeout(this.pollTimer)
    this.pollTimer = setTimeout(() => {
      this.polling = this.poll().finally(() => {
        this.polling = undefined
        this.schedulePoll()
      })
    }, delay)
    this.pollTimer.unref()
  }

  private async poll(): Promise<void> {
    if (this.followed.size === 0) return
    this.stats.polls++
    let rows
    try {
      rows = await this.options.readHeads([...this.followed.keys()])
    } catch (e) {
      if (!this.pollFailing) this.options.log(`postgresStorage: the safety poll failed (${(e as Error).message}); retrying`)
      this.pollFailing = true
      return
    }
    this.pollFailing = false
    const seen = new Set<string>()
    for (const row of rows) {
      seen.add(row.store_id)
      this.report(row.store_id, row.head, row.backend_id, true)
    }
    for (const [storeId, known] of this.followed) {
      if (!seen.has(storeId) && known.backendId !== undefined) this.report(storeId, -1, undefined, true)
    }
  }

  private onPayload(payload: string): void {
    this.stats.notifications++
    const colon = payload.lastIndexOf(':')
    const storeId = payload.slice(0, colon)
    const head = Number(payload.slice(colon + 1))
    if (colon < 0 || !Number.isSafeInteger(head)) return this.options.log(`postgresStorage: ignored a bad notification "${payload}"`)
    if (head < 0) {
      const own = this.ownWipes.get(storeId) ?? 0
      if (own > 0) {
        if (own === 1) this.ownWipes.delete(storeId)
        else this.ownWipes.set(storeId, own - 1)
        return
      }
    }
    this.report(storeId, head, undefined, false)
  }

  private report(storeId: string, head: number, backendId: string | undefined, fromPoll: boolean): void {
    const known = this.followed.get(storeId)
    if (known === undefined) return
    const wiped = head < 0 || (backendId !== undefined && known.backendId !== undefined && backendId !== known.backendId)
    if (wiped) {
      known.head = head < 0 ? 0 : head
      known.backendId = backendId
      if (fromPoll) this.stats.caughtUp++
      for (const listener of [...known.listeners]) listener(-1)
      if (head <= 0) return
    }
    if (backendId !== undefined) known.backendId = backendId
    if (wiped || known.head === undefined || head > known.head) {
      // the first head a poll reads for a store is no catch-up: nothing was known before
      if (fromPoll && known.head !== undefined && !wiped) this.stats.caughtUp++
      known.head = head
      for (const listener of [...known.listeners]) listener(head)
    }
  }
}
