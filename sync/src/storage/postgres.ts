import { SyncError, type WireEvent } from '@cairn/core'
import type pg from 'pg'
import { newBackendId, pageEnd, planAppend } from './plan-append.ts'
import { HeadWatcher, type HeadRow, type HeadWatcherStats } from './postgres-heads.ts'
import { migrate, pgNames, type PgNames } from './postgres-schema.ts'
import type { AppendResult, StoredEvent, StoredPage, StoreInfo, SyncStorage } from './types.ts'

export interface PostgresStorageOptions {
  /** `postgres://user:password@host:5432/db`; or leave it out and give `pool` (or the PG* environment variables). */
  readonly connectionString?: string
  /** More `pg` pool settings (ssl, host, password…); `connectionString` wins over its own. */
  readonly pool?: pg.PoolConfig
  /** The PostgreSQL schema holding the tables (created if missing). Default `public`. */
  readonly schema?: string
  /** Connections this node opens for appends and reads (plus one for LISTEN). Default 10. */
  readonly maxConnections?: number
  /** Period of the safety poll that covers lost notifications (ms). Default 3,000. */
  readonly pollMs?: number
  /** Shown in `pg_stat_activity.application_name` (the LISTEN connection adds " listen"). Default `cairn-sync`. */
  readonly applicationName?: string
  /** Where connection losses and recoveries are reported. Default `console.error`. */
  readonly log?: (message: string) => void
}

/** A `SyncStorage` on PostgreSQL, with counters of its notifications and polls. */
export interface PostgresStorage extends SyncStorage {
  readonly stats: HeadWatcherStats & {
    /** NOTIFYs this node sent (coalesced: one per store per event-loop turn). */
    notifiesSent: number
    /** Operations refused as retryable because PostgreSQL was unreachable. */
    unavailable: number
  }
}

/** At most this many events in one group transaction (a push alone may have more). */
const MAX_GROUP_EVENTS = 2_000

interface Pending {
  readonly events: readonly WireEvent[]
  readonly principal: string | undefined
  readonly resolve: (result: AppendResult) => void
  readonly reject: (error: unknown) => void
}

type Outcome = { ok: true; result: AppendResult } | { ok: false; error: SyncError }

interface ProducerRow {
  client_id: string
  last: number | null
  producer_seq: number | null
  event_id: string | null
  seq: number | null
}

interface EventRow {
  head: number
  seq: number | null
  event_id: string
  client_id: string
  producer_seq: number
  session_id: string
  name: string
  args: string
  principal: string | null
}

/**
 * Storage in PostgreSQL, for several stateless sync server nodes sharing one database. An append
 * is one READ COMMITTED transaction that first takes the store's head row lock
 * (`UPDATE … SET head = head + n … RETURNING`), so numbers are gap-free and a store's appends
 * commit in number order: a reader that sees N+1 sees N. Reads take the head and the events in one
 * statement (one snapshot) and never go past that head. After commit the node NOTIFYs
 * `storeId:head`; every node LISTENs before its first read, and re-reads followed heads after a
 * lost LISTEN connection and on a slow safety poll. PostgreSQL unreachable: operations fail with a
 * retryable `SyncError` (`Unavailable`, `retryAfterMs`), the pool and LISTEN reconnect by themselves.
 *
 * @example
 * const server = await createSyncServer({ port: 8787, authorize,
 *   storage: await postgresStorage({ connectionString: process.env.DATABASE_URL }) })
 */
export async function postgresStorage(options: PostgresStorageOptions = {}): Promise<PostgresStorage> {
  // loaded on use: a server on SQLite never loads the driver
  const { default: pg } = await import('pg')
  /** bigint columns as numbers: seq and producerSeq stay far below 2^53. */
  const types: pg.CustomTypesConfig = {
    getTypeParser: ((oid: number, format?: string) =>
      oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
  }
  const schema = options.schema ?? 'public'
  const log = options.log ?? ((message: string) => console.error(message))
  const appName = options.applicationName ?? 'cairn-sync'
  const config: pg.PoolConfig = {
    ...options.pool,
    ...(options.connectionString === undefined ? {} : { connectionString: options.connectionString }),
    types,
    keepAlive: true,
    application_name: appName,
  }
  const n = pgNames(schema, pg.escapeIdentifier)
  // appends and reads have pools of their own: a burst of page reads (every subscriber woken at
  // once) never makes an append wait for a connection
  const max = Math.max(2, options.maxConnections ?? 10)
  const pool = new pg.Pool({ ...config, max: Math.ceil(max / 2), connectionTimeoutMillis: 5_000 })
  const readPool = new pg.Pool({ ...config, max: Math.floor(max / 2), connectionTimeoutMillis: 5_000 })
  // an idle connection that PostgreSQL terminated: the pool drops it and opens another when needed.
  // Every connection also keeps a listener of its own from its first checkout: pg emits 'error'
  // on a connection PostgreSQL cuts while no query runs on it, and an 'error' nobody listens to
  // ends the process. withClient listens while it holds a connection and the pool while it is
  // idle, yet a CI run saw one slip between (a PostgreSQL restart in postgres-faults.test.ts).
  for (const p of [pool, readPool]) {
    p.on('error', (e) => log(`postgresStorage: an idle connection failed (${e.message}); the pool replaces it`))
    p.on('connect', (client) => client.on('error', (e) => log(`postgresStorage: a connection failed (${e.message}); it is dropped`)))
  }

  const setup = await pool.connect().catch((e: Error) => {
    throw new Error(`postgresStorage: cannot connect to PostgreSQL (${e.message}); check the connection string and that the server runs`, {
      cause: e,
    })
  })
  try {
    await migrate(setup, n)
    setup.release()
  } catch (e) {
    setup.release(true)
    await Promise.all([pool.end(), readPool.end()])
    throw e
  }

  const sql = statements(n)
  const watcher = new HeadWatcher({
    newClient: () => new pg.Client({ ...config, application_name: `${appName} listen` }),
    channel: n.channel,
    escapeIdentifier: pg.escapeIdentifier,
    pollMs: options.pollMs ?? 3_000,
    readHeads: async (storeIds) => (await readPool.query<HeadRow>({ name: 'cairn_heads', text: sql.heads, values: [storeIds] })).rows,
    log,
  })
  // one live object: the watcher's counters and the storage's
  const counters: PostgresStorage['stats'] = Object.assign(watcher.stats, { notifiesSent: 0, unavailable: 0 })
  try {
    await watcher.start()
  } catch (e) {
    await watcher.close()
    await Promise.all([pool.end(), readPool.end()])
    throw new Error(`postgresStorage: cannot LISTEN on "${n.channel}" (${(e as Error).message})`, { cause: e })
  }

  /** Runs `work` on one connection; a connection that failed is dropped, not reused; unreachable PostgreSQL is retryable. */
  const withClient = async <T>(work: (c: pg.PoolClient) => Promise<T>, from: pg.Pool = pool): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient
      try {
        client = await from.connect()
      } catch (e) {
        throw unavailable(e)
      }
      // a checked-out connection that PostgreSQL cuts between two queries emits 'error' (and
      // crashes the process if nobody listens); the next query then fails and the catch below drops it
      const onError = (e: Error) => log(`postgresStorage: a connection in use failed (${e.message})`)
      client.on('error', onError)
      try {
        const result = await work(client)
        client.off('error', onError)
        client.release()
        return result
      } catch (e) {
        client.off('error', onError)
        // the transaction may be open on a broken connection: such a connection is never handed out again
        client.release(e instanceof SyncError ? undefined : true)
        // deadlocks, serialization failures and unique violations need no client: run it again
        if (attempt < 3 && isTransient(e)) continue
        if (e instanceof SyncError) throw e
        throw isConnectionError(e) ? unavailable(e) : e
      }
    }
  }
  const unavailable = (e: unknown): SyncError => {
    counters.unavailable++
    return new SyncError(
      'Unavailable',
      `The sync server's database (PostgreSQL) is unreachable (${(e as Error)?.message ?? e}); try again.`,
      { retryAfterMs: 1_000 },
      { cause: e },
    )
  }

  // NOTIFY after commit, coalesced: the latest head of each store once per event-loop turn. Its own
  // transaction skips the WAL flush wait: it is a hint, a lost one is covered by the poll.
  let pendingNotify = new Map<string, number>()
  let notifying: Promise<void> | undefined
  const notify = (storeId: string, head: number) => {
    const payload = `${storeId}:${head}`
    if (Buffer.byteLength(payload) > 7_900) return // over NOTIFY's payload limit: followers learn it from the poll
    pendingNotify.set(storeId, head)
    if (pendingNotify.size === 1 && notifying === undefined) setImmediate(flushNotify)
  }
  const flushNotify = () => {
    if (pendingNotify.size === 0) return
    const batch = pendingNotify
    pendingNotify = new Map()
    notifying = pool
      .query({ name: 'cairn_notify', text: sql.notify, values: [n.channel, [...batch].map(([storeId, head]) => `${storeId}:${head}`)] })
      .then(
        () => {
          counters.notifiesSent += batch.size
        },
        (e: Error) => log(`postgresStorage: NOTIFY failed (${e.message}); other nodes learn the heads from their poll`),
      )
    void notifying.finally(() => {
      notifying = undefined
      if (pendingNotify.size > 0) setImmediate(flushNotify)
    })
  }

  const toEvent = (r: EventRow): StoredEvent => ({
    seq: r.seq!,
    eventId: r.event_id,
    producerSeq: r.producer_seq,
    name: r.name,
    args: JSON.parse(r.args),
    clientId: r.client_id,
    sessionId: r.session_id,
    ...(r.principal === null ? {} : { principal: r.principal }),
  })

  const readInfo = async (c: pg.ClientBase, storeId: string): Promise<StoreInfo | undefined> => {
    const row = (await c.query<{ backend_id: string; head: number }>({ name: 'cairn_info', text: sql.info, values: [storeId] })).rows[0]
    return row === undefined ? undefined : { backendId: row.backend_id, head: row.head }
  }

  /**
   * One transaction for a group of pushes to one store: the head row lock first (whatever this
   * transaction reads next was committed before it), then the producers' state, then each push
   * is planned in order against what the pushes before it added; a refused push stores nothing
   * and the others still commit.
   */
  const appendGroup = async (c: pg.PoolClient, storeId: string, group: readonly Pending[]): Promise<Outcome[]> => {
    const all = group.flatMap((p) => p.events)
    const fast = await appendFast(c, storeId, group, all)
    if (fast !== undefined) return fast
    await c.query('BEGIN ISOLATION LEVEL READ COMMITTED')
    try {
      let locked = await c.query<{ head: number }>({ name: 'cairn_lock', text: sql.lock, values: [storeId, all.length] })
      if (locked.rows.length === 0) {
        await c.query({ name: 'cairn_create', text: sql.create, values: [storeId, newBackendId()] })
        locked = await c.query<{ head: number }>({ name: 'cairn_lock', text: sql.lock, values: [storeId, all.length] })
      }
      const base = locked.rows[0]!.head - all.length
      const known = await c.query<ProducerRow>({
        name: 'cairn_producers',
        text: sql.producers,
        values: [storeId, [...new Set(all.map((e) => e.clientId))], all.map((e) => e.clientId), all.map((e) => e.producerSeq)],
      })
      const last = new Map<string, number>()
      const stored = new Map<string, { eventId: string; seq: number }>()
      for (const r of known.rows) {
        if (r.producer_seq === null) last.set(r.client_id, r.last ?? 0)
        else stored.set(`${r.producer_seq}:${r.client_id}`, { eventId: r.event_id!, seq: r.seq! })
      }
      const lookup = {
        last: (clientId: string) => last.get(clientId) ?? 0,
        stored: (clientId: string, seq: number) => stored.get(`${seq}:${clientId}`),
      }
      const fresh: StoredEvent[] = []
      const outcomes: Outcome[] = []
      for (const p of group) {
        try {
          const plan = planAppend(p.events, base + fresh.length, lookup, p.principal)
          for (const e of plan.fresh) {
            last.set(e.clientId, e.producerSeq)
            stored.set(`${e.producerSeq}:${e.clientId}`, { eventId: e.eventId, seq: e.seq })
            fresh.push(e)
          }
          outcomes.push({ ok: true, result: { assigned: plan.assigned, appended: plan.fresh.length, head: base + fresh.length } })
        } catch (error) {
          if (!(error instanceof SyncError)) throw error
          outcomes.push({ ok: false, error })
        }
      }
      if (fresh.length > 0) {
        await c.query({
          name: 'cairn_insert',
          text: sql.insert,
          values: [
            storeId,
            fresh.map((e) => e.seq),
            fresh.map((e) => e.eventId),
            fresh.map((e) => e.clientId),
            fresh.map((e) => e.producerSeq),
            fresh.map((e) => e.sessionId),
            fresh.map((e) => e.name),
            fresh.map((e) => JSON.stringify(e.args ?? null)),
            fresh.map((e) => e.principal ?? null),
          ],
        })
      }
      // re-sent and refused events took no number: the head moves by the new ones only
      if (fresh.length !== all.length) await c.query({ name: 'cairn_set_head', text: sql.setHead, values: [storeId, base + fresh.length] })
      await c.query('COMMIT')
      return outcomes
    } catch (e) {
      // a broken connection is dropped by withClient (its transaction dies with it)
      if (e instanceof SyncError) await c.query('ROLLBACK')
      throw e
    }
  }

  /**
   * The common case in one statement (one round trip, its own transaction): every event is new
   * and each client's producerSeqs continue its last one. The statement takes the head row lock
   * (`UPDATE … SET head = head + n`) before it inserts; its producer check may read a snapshot
   * older than the lock (when it waited for another append), so it only ever errs towards "not
   * sure": no row, or a unique violation for an event stored before. Then the caller plans the
   * group in a transaction of its own (`undefined` here).
   */
  const appendFast = async (c: pg.PoolClient, storeId: string, group: readonly Pending[], all: readonly WireEvent[]) => {
    const firsts = new Map<string, number>()
    const next = new Map<string, number>()
    for (const e of all) {
      const expected = next.get(e.clientId)
      if (expected === undefined) firsts.set(e.clientId, e.producerSeq)
      else if (e.producerSeq !== expected) return undefined // a re-send or a gap inside the group: the planner decides
      next.set(e.clientId, e.producerSeq + 1)
    }
    const principals = group.flatMap((p) => p.events.map(() => p.principal ?? null))
    let rows
    try {
      rows = (
        await c.query<{ base: number }>({
          name: 'cairn_append_fast',
          text: sql.appendFast,
          values: [
            storeId,
            all.length,
            [...firsts.keys()],
            [...firsts.values()],
            all.map((e) => e.eventId),
            all.map((e) => e.clientId),
            all.map((e) => e.producerSeq),
            all.map((e) => e.sessionId),
            all.map((e) => e.name),
            all.map((e) => JSON.stringify(e.args ?? null)),
            principals,
          ],
        })
      ).rows
    } catch (e) {
      if ((e as { code?: unknown })?.code === '23505') return undefined // an event stored before: a re-send or a collision
      throw e
    }
    if (rows.length === 0) return undefined // no store yet, or a producer check to redo under the lock
    let seq = rows[0]!.base
    return group.map((p): Outcome => {
      const assigned = p.events.map(() => ++seq)
      return { ok: true, result: { assigned, appended: assigned.length, head: seq } }
    })
  }

  // Appends to one store wait for the one in flight, then go together in one transaction: arrival
  // order within this node, one lock wait and one commit for a burst. Other stores run in parallel.
  const queues = new Map<string, Pending[]>()
  const runQueue = (storeId: string) => {
    const queue = queues.get(storeId)!
    const group: Pending[] = []
    let events = 0
    while (queue.length > 0 && (group.length === 0 || events + queue[0]!.events.length <= MAX_GROUP_EVENTS)) {
      const p = queue.shift()!
      events += p.events.length
      group.push(p)
    }
    withClient((c) => appendGroup(c, storeId, group))
      .then(
        (outcomes) => {
          let head = -1
          outcomes.forEach((o, i) => {
            if (o.ok) {
              if (o.result.appended > 0) head = Math.max(head, o.result.head)
              group[i]!.resolve(o.result)
            } else group[i]!.reject(o.error)
          })
          if (head >= 0) {
            watcher.committed(storeId, head)
            notify(storeId, head)
          }
        },
        (error: unknown) => group.forEach((p) => p.reject(error)),
      )
      .finally(() => {
        if (queue.length > 0) runQueue(storeId)
        else queues.delete(storeId)
      })
  }

  let closed: Promise<void> | undefined
  const storage: PostgresStorage = {
    stats: counters,
    info: (storeId) =>
      withClient(async (c) => {
        const existing = await readInfo(c, storeId)
        if (existing !== undefined) return existing
        await c.query({ name: 'cairn_create', text: sql.create, values: [storeId, newBackendId()] })
        // created here or by another node meanwhile: what won is in the table (gone again only after a wipe)
        return (await readInfo(c, storeId)) ?? storage.info(storeId)
      }),
    append: (storeId, events, principal) =>
      new Promise<AppendResult>((resolve, reject) => {
        if (closed !== undefined)
          return reject(new SyncError('Unavailable', 'The sync storage is closing; try again.', { retryAfterMs: 1_000 }))
        let queue = queues.get(storeId)
        const idle = queue === undefined
        if (queue === undefined) queues.set(storeId, (queue = []))
        queue.push({ events, principal, resolve, reject })
        if (idle) runQueue(storeId)
      }),
    page: (storeId, after, pageSize): Promise<StoredPage> =>
      withClient(async (c) => {
        const upTo = (Math.floor(after / pageSize) + 1) * pageSize
        const rows = (await c.query<EventRow>({ name: 'cairn_page', text: sql.page, values: [storeId, after, upTo] })).rows
        const head = rows[0]?.head ?? 0
        const end = pageEnd(after, pageSize, head)
        const events = rows[0]?.seq === null ? [] : rows.map(toEvent)
        return { events, head, remaining: Math.max(0, head - Math.max(end, after)) }
      }, readPool),
    async wipe(storeId) {
      await withClient(async (c) => {
        await c.query('BEGIN')
        try {
          // the head row first: waits for appends in flight, and blocks new ones until the events are gone
          await c.query(sql.deleteStore, [storeId])
          await c.query(sql.deleteEvents, [storeId])
          await c.query('COMMIT')
        } catch (e) {
          if (e instanceof SyncError) await c.query('ROLLBACK')
          throw e
        }
      })
      watcher.wiped(storeId)
      notify(storeId, -1)
    },
    follow: (storeId, onHead) => watcher.follow(storeId, onHead),
    close() {
      closed ??= (async () => {
        await watcher.close()
        if (pendingNotify.size > 0) flushNotify()
        await notifying
        await Promise.all([pool.end(), readPool.end()])
      })()
      return closed
    },
  }
  return storage
}

function statements(n: PgNames) {
  return {
    info: `SELECT backend_id, head FROM ${n.stores} WHERE store_id = $1`,
    create: `INSERT INTO ${n.stores} (store_id, backend_id, head) VALUES ($1, $2, 0) ON CONFLICT (store_id) DO NOTHING RETURNING head`,
    appendFast: `
WITH h AS (
  UPDATE ${n.stores} SET head = head + $2
   WHERE store_id = $1
     AND NOT EXISTS (
       SELECT 1 FROM unnest($3::text[], $4::bigint[]) AS p(c, f)
        WHERE p.f > 1 AND NOT EXISTS (
          SELECT 1 FROM ${n.events} e WHERE e.store_id = $1 AND e.client_id = p.c AND e.producer_seq = p.f - 1))
  RETURNING head - $2 AS base
), ins AS (
  INSERT INTO ${n.events} (store_id, seq, event_id, client_id, producer_seq, session_id, name, args, principal)
  SELECT $1, h.base + u.i, u.event_id, u.client_id, u.producer_seq, u.session_id, u.name, u.args, u.principal
    FROM h, unnest($5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[])
         WITH ORDINALITY AS u(event_id, client_id, producer_seq, session_id, name, args, principal, i)
)
SELECT base FROM h`,
    lock: `UPDATE ${n.stores} SET head = head + $2 WHERE store_id = $1 RETURNING head`,
    setHead: `UPDATE ${n.stores} SET head = $2 WHERE store_id = $1`,
    // per client of the push: its last producerSeq; per event: the stored event with its producerSeq, if any
    producers: `
SELECT p.c AS client_id, (SELECT max(e.producer_seq) FROM ${n.events} e WHERE e.store_id = $1 AND e.client_id = p.c) AS last,
       NULL::bigint AS producer_seq, NULL::text AS event_id, NULL::bigint AS seq
  FROM unnest($2::text[]) AS p(c)
UNION ALL
SELECT e.client_id, NULL, e.producer_seq, e.event_id, e.seq
  FROM unnest($3::text[], $4::bigint[]) AS q(c, s)
  JOIN ${n.events} e ON e.store_id = $1 AND e.client_id = q.c AND e.producer_seq = q.s`,
    insert: `
INSERT INTO ${n.events} (store_id, seq, event_id, client_id, producer_seq, session_id, name, args, principal)
SELECT $1, u.* FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[]) AS u`,
    // the head and the page in one statement, so one snapshot: never an event past the head read
    page: `
SELECT s.head, e.seq, e.event_id, e.client_id, e.producer_seq, e.session_id, e.name, e.args, e.principal
  FROM ${n.stores} s
  LEFT JOIN ${n.events} e ON e.store_id = s.store_id AND e.seq > $2 AND e.seq <= LEAST(s.head, $3)
 WHERE s.store_id = $1
 ORDER BY e.seq`,
    // its own transaction, without waiting for the WAL flush: a lost hint costs a poll period, never an event
    notify: `SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, p) FROM unnest($2::text[]) AS p`,
    heads: `SELECT store_id, backend_id, head FROM ${n.stores} WHERE store_id = ANY($1::text[])`,
    deleteStore: `DELETE FROM ${n.stores} WHERE store_id = $1`,
    deleteEvents: `DELETE FROM ${n.events} WHERE store_id = $1`,
  }
}

/** Failures that a second run of the same transaction fixes. */
function isTransient(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code
  return code === '40001' || code === '40P01' || code === '23505'
}

/** PostgreSQL unreachable, restarting, or the connection cut: the client may retry. */
function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code
  if (e instanceof TypeError || e instanceof RangeError || e instanceof SyntaxError) return false // a bug, not the database
  if (typeof code !== 'string') return true // pg's "Connection terminated unexpectedly" and the like
  if (/^[A-Z]/.test(code) && !/^\d/.test(code)) return true // ECONNREFUSED, ECONNRESET, ETIMEDOUT…
  return /^(08|53|57|58)/.test(code) || code === '40001' || code === '40P01'
}
