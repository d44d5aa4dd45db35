// The leader applies a session's recorded changes (its write statements, or a changeset) instead of
// materializing a commit again when the session committed on exactly the leader's state; these
// tests pin when it may and may not.
import {
  createStorePromise,
  Events,
  Leader,
  makeSchema,
  queryDb,
  SqliteDb,
  State,
  type Adapter,
  type EventRecord,
  type MaterializerContext,
} from '@cairn/core'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { events, materializers, tables } from './fixtures.ts'

/** The fixtures' schema, counting materializer calls per event name (session and leader together). */
function countingSchema() {
  const calls = new Map<string, number>()
  const count = (name: string) => calls.set(name, (calls.get(name) ?? 0) + 1)
  const schema = makeSchema({
    events,
    state: State.SQLite.makeState({
      tables,
      materializers: {
        ...materializers,
        'v1.TodoCreated': (args: { id: string; text: string }) => {
          count('v1.TodoCreated')
          return tables.todos.insert(args)
        },
        'v1.Counted': ({ id }: { id: string }, ctx: MaterializerContext) => {
          count('v1.Counted')
          return tables.stats.insert({ id, n: ctx.query(tables.todos.count()) }).onConflict('id', 'replace')
        },
        DraftChanged: ({ text }: { text: string }) => {
          count('DraftChanged')
          return tables.drafts.insert({ id: 'current', text }).onConflict('id', 'replace')
        },
      },
    }),
  })
  return { schema, calls: (name: string) => calls.get(name) ?? 0 }
}

/** An adapter around a leader we hold, so tests can look at it; any number of sessions. */
function adapterFor(leader: Leader): Adapter {
  return {
    name: 'test',
    async openLeader() {
      return {
        clientId: leader.clientId,
        boot: async () => leader.snapshot(),
        append: async (evs, commits) => leader.append(evs, commits),
        readLog: async () => leader.logEntries(),
        rematerialize: async () => leader.rematerialize(),
        subscribe: (listener) => leader.subscribe(listener),
        close: async () => {},
      }
    },
  }
}

const todos = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => events.todoCreated({ id: `${prefix}${i}`, text: `${i}` }))
const leaderDb = (leader: Leader) => (leader as unknown as { db: SqliteDb }).db
const todoIds = (db: SqliteDb) => db.select('SELECT id, text FROM todos ORDER BY id')
/** A logged v1.TodoCreated as the leader receives it, numbered `global`. */
const rec = (id: string, global: number): EventRecord => ({
  seqNum: { global, client: 0, rebaseGeneration: 0 },
  name: 'v1.TodoCreated',
  json: JSON.stringify({ id, text: 'leader' }),
  eventId: `ev-${global}`,
  clientId: 'c1',
  sessionId: 's1',
  clientOnly: false,
})

describe('leader applies session changes', () => {
  it('applies commits from the session again after a rematerialize, which the session reloads from', async () => {
    const { schema, calls } = countingSchema()
    const leader = Leader.open(await SqliteDb.open(), schema, { clientId: 'c1' })
    const store = await createStorePromise({
      schema,
      adapter: adapterFor(leader),
      storeId: 's',
      onError: (e) => {
        throw e
      },
    })
    await store.commit(...todos('a', 3)).persisted
    await store.rematerialize()
    // the leader replayed the log: three materializer runs of its own
    expect(calls('v1.TodoCreated')).toBe(3 + 3)
    const applied = leader.changesetsApplied
    await store.commit(...todos('b', 2)).persisted
    expect(leader.changesetsApplied).toBe(applied + 1)
    expect(calls('v1.TodoCreated')).toBe(3 + 3 + 2)
    expect(todoIds(leaderDb(leader))).toEqual(store.query(queryDb({ query: 'SELECT id, text FROM todos ORDER BY id' })))
    await store.shutdown()
  })

  it('applies a synced commit made on its own state without running the materializers again', async () => {
    const { schema, calls } = countingSchema()
    const leader = Leader.open(await SqliteDb.open(), schema, { clientId: 'c1' })
    const store = await createStorePromise({
      schema,
      adapter: adapterFor(leader),
      storeId: 's',
      onError: (e) => {
        throw e
      },
    })
    // without a sync backend, every synced commit carries its write statements
    store.commit(...todos('a', 8))
    store.commit(events.draftChanged({ text: 'draft' })) // client-only: materialized in the leader
    store.commit(events.counted({ id: 'n' }), ...todos('b', 7)) // reads state: its writes are what the session computed
    store.commit(...todos('c', 8))
    await store.commit(events.todoCreated({ id: 'd', text: '3' })).persisted
    // every synced event ran once, in the session only; the client-only one ran in both
    expect(calls('v1.TodoCreated')).toBe(8 + 7 + 8 + 1)
    expect(calls('v1.Counted')).toBe(1)
    expect(calls('DraftChanged')).toBe(2)
    expect(leader.changesetsApplied).toBe(4) // the last three in one savepoint
    const db = leaderDb(leader)
    expect(todoIds(db)).toEqual(store.query(queryDb({ query: 'SELECT id, text FROM todos ORDER BY id' })))
    expect(db.select('SELECT id, n FROM stats')).toEqual([{ id: 'n', n: 8 }])
    expect(db.select('SELECT text FROM drafts')).toEqual([{ text: 'draft' }])
    expect(leader.eventCount).toBe(26)
    await store.shutdown()
  })

  it('materializes when the session committed on another state (another session wrote in between)', async () => {
    const { schema, calls } = countingSchema()
    const leader = Leader.open(await SqliteDb.open(), schema, { clientId: 'c1' })
    const adapter = adapterFor(leader)
    const a = await createStorePromise({
      schema,
      adapter,
      storeId: 's',
      onError: (e) => {
        throw e
      },
    })
    const b = await createStorePromise({
      schema,
      adapter,
      storeId: 's',
      onError: (e) => {
        throw e
      },
    })
    await a.commit(...todos('a', 8)).persisted
    expect(leader.changesetsApplied).toBe(1)
    // b got a's events from the leader: its state is not one the leader can name any more
    await b.commit(events.counted({ id: 'n' }), ...todos('b', 7)).persisted
    expect(leader.changesetsApplied).toBe(1)
    expect(calls('v1.Counted')).toBe(3) // b, the leader, and a (which gets b's events from the leader)
    expect(leaderDb(leader).select('SELECT id, n FROM stats')).toEqual([{ id: 'n', n: 8 }])
    await a.shutdown()
    await b.shutdown()
  })

  it('materializes when the base differs, and when the changeset conflicts with the state', async () => {
    const { schema, calls } = countingSchema()
    const leader = Leader.open(await SqliteDb.open(), schema, { clientId: 'c1' })
    const boot = leader.snapshot()
    // a "session": the leader's snapshot, one event materialized there while recording
    const session = await SqliteDb.deserialize(boot.snapshot)
    session.exec('DROP TABLE __cairn_eventlog; DROP TABLE __cairn_meta')
    const recorded = session.recordChanges(() => session.run(`INSERT INTO todos (id, text, completed) VALUES ('x', 'session', 0)`))
    // a stale base: materialized, the changeset is ignored
    leader.append([rec('x', 1)], [{ count: 1, base: 'not-the-state', changeset: recorded.changeset }])
    expect(leader.changesetsApplied).toBe(0)
    expect(calls('v1.TodoCreated')).toBe(1)
    expect(todoIds(leaderDb(leader))).toEqual([{ id: 'x', text: 'leader' }])

    // the right base, but the state was changed behind the leader's back: 'y' exists already
    const token = leader.snapshot().stateToken!
    leaderDb(leader).run(`INSERT INTO todos (id, text, completed) VALUES ('y', 'behind', 0)`)
    const onY = session.recordChanges(() => session.run(`INSERT INTO todos (id, text, completed) VALUES ('y', 'session', 0)`))
    const result = leader.append([rec('y', 2)], [{ count: 1, base: token, changeset: onY.changeset }])
    expect(leader.changesetsApplied).toBe(0)
    // the fallback materialized it, failed on the duplicate, and reported it; the event is logged
    expect(calls('v1.TodoCreated')).toBe(3) // the batch's savepoint failed, then the event alone
    expect(result.failures.map((f) => f.eventId)).toEqual(['ev-2'])
    expect(leader.eventCount).toBe(2)
    expect(todoIds(leaderDb(leader))).toEqual([
      { id: 'x', text: 'leader' },
      { id: 'y', text: 'behind' },
    ])
  })

  it("stops applying changesets once a materializer failed only in the leader (its state is not the session's)", async () => {
    const { schema, calls } = countingSchema()
    const leader = Leader.open(await SqliteDb.open(), schema, { clientId: 'c1' })
    const boot = leader.snapshot()
    const session = await SqliteDb.deserialize(boot.snapshot)
    session.exec('DROP TABLE __cairn_eventlog; DROP TABLE __cairn_meta')
    const insert = (id: string) =>
      session.recordChanges(() => session.run(`INSERT INTO todos (id, text, completed) VALUES (?, 'x', 0)`, [id])).changeset
    const rec = (global: number, name: string, args: unknown): EventRecord => ({
      seqNum: { global, client: 0, rebaseGeneration: 0 },
      name,
      json: JSON.stringify(args),
      eventId: `ev-${global}`,
      clientId: 'c1',
      sessionId: 's1',
      clientOnly: false,
    })
    // v1.Boom succeeded in the session (its changeset is empty) but throws in the leader
    const result = leader.append(
      [rec(1, 'v1.Boom', { message: 'only here' }), rec(2, 'v1.TodoCreated', { id: 'a', text: 'x' })],
      [
        { count: 1, base: boot.stateToken!, changeset: undefined },
        { count: 1, base: 'ev-1', changeset: insert('a') },
      ],
    )
    expect(result.failures.map((f) => f.eventId)).toEqual(['ev-1'])
    expect(leader.changesetsApplied).toBe(0)
    expect(calls('v1.TodoCreated')).toBe(1)
    // nor in a later batch continuing the same chain
    leader.append([rec(3, 'v1.TodoCreated', { id: 'b', text: 'x' })], [{ count: 1, base: 'ev-2', changeset: insert('b') }])
    expect(leader.changesetsApplied).toBe(0)
    expect(calls('v1.TodoCreated')).toBe(2)
    expect(todoIds(leaderDb(leader)).map((r) => r.id)).toEqual(['a', 'b'])
  })

  it('keeps sqlite_sequence with AUTOINCREMENT: writes are run again, changesets (which do not carry it) are not applied', async () => {
    const added = Events.synced({ name: 'v1.Added', schema: z.object({ text: z.string() }) })
    const items = State.SQLite.table({
      name: 'items',
      columns: { n: State.SQLite.integer({ primaryKey: true, autoIncrement: true }), text: State.SQLite.text() },
    })
    let calls = 0
    const schema = makeSchema({
      events: { added },
      state: State.SQLite.makeState({
        tables: { items },
        materializers: {
          'v1.Added': ({ text }: { text: string }) => {
            calls++
            return items.insert({ text })
          },
        },
      }),
    })
    const leader = Leader.open(await SqliteDb.open(), schema, { clientId: 'c1' })
    const store = await createStorePromise({ schema, adapter: adapterFor(leader), storeId: 's' })
    await store.commit(...Array.from({ length: 8 }, (_, i) => added({ text: `${i}` }))).persisted
    expect(leader.changesetsApplied).toBe(1)
    expect(calls).toBe(8)
    expect(leaderDb(leader).select('SELECT seq FROM sqlite_sequence')).toEqual([{ seq: 8 }])
    await store.shutdown()

    // a changeset for the same schema: materialized instead
    const session = await SqliteDb.deserialize(leader.snapshot().snapshot)
    const recorded = session.recordChanges(() => session.run(`INSERT INTO items (text) VALUES ('9')`))
    const record: EventRecord = {
      seqNum: { global: 9, client: 0, rebaseGeneration: 0 },
      name: 'v1.Added',
      json: JSON.stringify({ text: '9' }),
      eventId: 'ev-9',
      clientId: 'c1',
      sessionId: 's1',
      clientOnly: false,
    }
    leader.append([record], [{ count: 1, base: leader.snapshot().stateToken!, changeset: recorded.changeset }])
    expect(leader.changesetsApplied).toBe(1)
    expect(calls).toBe(9)
    expect(leaderDb(leader).select('SELECT seq FROM sqlite_sequence')).toEqual([{ seq: 9 }])
  })

  it("runs a commit's writes again: updates, deletes, upserts, raw SQL, RETURNING reads, reused bind arrays", async () => {
    const put = Events.synced({ name: 'v1.Put', schema: z.object({ id: z.string(), n: z.number() }) })
    const drop = Events.synced({ name: 'v1.Drop', schema: z.object({ id: z.string() }) })
    const bump = Events.synced({ name: 'v1.Bump', schema: z.object({ id: z.string() }) })
    const raw = Events.synced({ name: 'v1.Raw', schema: z.object({ id: z.string(), n: z.number() }) })
    const kv = State.SQLite.table({
      name: 'kv',
      columns: { id: State.SQLite.text({ primaryKey: true }), n: State.SQLite.integer({ default: 0 }) },
    })
    const log = State.SQLite.table({
      name: 'log',
      columns: { id: State.SQLite.text({ primaryKey: true }), line: State.SQLite.text() },
    })
    let calls = 0
    // one array for every raw write: the recording must keep the values, not the array
    const shared: [string, number] = ['', 0]
    const schema = makeSchema({
      events: { put, drop, bump, raw },
      state: State.SQLite.makeState({
        tables: { kv, log },
        materializers: {
          'v1.Put': ({ id, n }: { id: string; n: number }) => {
            calls++
            return kv.insert({ id, n }).onConflict('id', 'update', { n })
          },
          'v1.Drop': ({ id }: { id: string }) => {
            calls++
            return kv.delete().where({ id })
          },
          'v1.Bump': ({ id }: { id: string }, ctx: MaterializerContext) => {
            calls++
            const [row] = ctx.query(kv.update({ n: 100 }).where({ id }).returning('n'))
            return log.insert({ id, line: `${id} is ${row?.n ?? 'missing'}` })
          },
          'v1.Raw': ({ id, n }: { id: string; n: number }) => {
            calls++
            shared[0] = id
            shared[1] = n
            return { sql: 'INSERT INTO kv (id, n) VALUES (?, ?)', bindValues: shared }
          },
        },
      }),
    })
    const leader = Leader.open(await SqliteDb.open(), schema, { clientId: 'c1' })
    const store = await createStorePromise({
      schema,
      adapter: adapterFor(leader),
      storeId: 's',
      onError: (e) => {
        throw e
      },
    })
    store.commit(put({ id: 'a', n: 1 }), put({ id: 'b', n: 2 }), raw({ id: 'r1', n: 7 }), raw({ id: 'r2', n: 8 }))
    store.commit(put({ id: 'a', n: 3 }), bump({ id: 'b' }), bump({ id: 'zz' }))
    await store.commit(drop({ id: 'r1' })).persisted
    expect(calls).toBe(8) // the session only
    expect(leader.changesetsApplied).toBe(3)
    const all = (db: { select(sql: string): unknown[] }) => [
      db.select('SELECT id, n FROM kv ORDER BY id'),
      db.select('SELECT id, line FROM log ORDER BY id'),
    ]
    expect(all(leaderDb(leader))).toEqual([
      [
        { id: 'a', n: 3 },
        { id: 'b', n: 100 },
        { id: 'r2', n: 8 },
      ],
      [
        { id: 'b', line: 'b is 100' },
        { id: 'zz', line: 'zz is missing' },
      ],
    ])
    expect(all({ select: (sql) => store.query(queryDb({ query: sql })) })).toEqual(all(leaderDb(leader)))
    await store.shutdown()
  })

  it('materializes when a recorded write fails on the state (changed behind its back)', async () => {
    const { schema, calls } = countingSchema()
    const leader = Leader.open(await SqliteDb.open(), schema, { clientId: 'c1' })
    const session = await SqliteDb.deserialize(leader.snapshot().snapshot)
    session.exec('DROP TABLE __cairn_eventlog; DROP TABLE __cairn_meta')
    const recorded = session.recordWrites(() => {
      session.run(`INSERT INTO todos (id, text, completed) VALUES (?, 'session', 0)`, ['x'])
      session.run(`INSERT INTO todos (id, text, completed) VALUES (?, 'session', 0)`, ['y'])
    })
    expect([...recorded.tables]).toEqual(['todos'])
    const token = leader.snapshot().stateToken!
    leaderDb(leader).run(`INSERT INTO todos (id, text, completed) VALUES ('y', 'behind', 0)`)
    const result = leader.append([rec('x', 1), rec('y', 2)], [{ count: 2, base: token, changeset: undefined, writes: recorded.writes }])
    expect(leader.changesetsApplied).toBe(0)
    // nothing of the replay stayed: 'x' comes from the materializer, 'y' failed there and is reported
    expect(result.failures.map((f) => f.eventId)).toEqual(['ev-2'])
    expect(calls('v1.TodoCreated')).toBe(4) // the batch's savepoint failed, then each event alone
    expect(todoIds(leaderDb(leader))).toEqual([
      { id: 'x', text: 'leader' },
      { id: 'y', text: 'behind' },
    ])
    expect(leader.eventCount).toBe(2)
  })

  it('materializes a commit in which a write failed halfway and the materializer went on', async () => {
    const add = Events.synced({ name: 'v1.Add', schema: z.object({ id: z.string(), also: z.string() }) })
    const kv = State.SQLite.table({
      name: 'kv',
      columns: { id: State.SQLite.text({ primaryKey: true }), note: State.SQLite.text({ default: '' }) },
    })
    let calls = 0
    const schema = makeSchema({
      events: { add },
      state: State.SQLite.makeState({
        tables: { kv },
        materializers: {
          'v1.Add': ({ id, also }: { id: string; also: string }, ctx: MaterializerContext) => {
            calls++
            try {
              // OR FAIL keeps the rows inserted before the failing one
              ctx.query({ query: 'INSERT OR FAIL INTO kv (id) VALUES (?), (?) RETURNING id', bindValues: [id, also] })
            } catch {
              return kv.update({ note: 'half' }).where({ id })
            }
          },
        },
      }),
    })
    const leader = Leader.open(await SqliteDb.open(), schema, { clientId: 'c1' })
    const store = await createStorePromise({
      schema,
      adapter: adapterFor(leader),
      storeId: 's',
      onError: (e) => {
        throw e
      },
    })
    await store.commit(add({ id: 'a', also: 'b' }), add({ id: 'c', also: 'a' })).persisted
    expect(leader.changesetsApplied).toBe(0)
    expect(calls).toBe(4) // the session and the leader
    const expected = [
      { id: 'a', note: '' },
      { id: 'b', note: '' },
      { id: 'c', note: 'half' },
    ]
    expect(leaderDb(leader).select('SELECT id, note FROM kv ORDER BY id')).toEqual(expected)
    expect(store.query(queryDb({ query: 'SELECT id, note FROM kv ORDER BY id' }))).toEqual(expected)
    await store.shutdown()
  })
})
