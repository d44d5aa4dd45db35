import {
  createStorePromise,
  Events,
  formatSeqNum,
  hostLeader,
  Leader,
  makeInMemoryAdapter,
  makeSchema,
  queryDb,
  SqliteDb,
  State,
  UnknownEventError,
  type BootProgress,
  type BootStatus,
  type EventRecord,
  type LoggedEvent,
} from '@cairn/core'
import { newEventId, newEventIds } from '../src/events/record.ts'
import { describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { events, makeStore, materializers, schema, tables } from './fixtures.ts'

function record(seq: number, name: string, args: unknown, clientOnly = false, client = 0): EventRecord {
  return {
    seqNum: { global: seq, client, rebaseGeneration: 0 },
    name,
    json: JSON.stringify(args),
    eventId: `ev-${seq}-${client}`,
    clientId: 'c1',
    sessionId: 's1',
    clientOnly,
  }
}

describe('formatSeqNum', () => {
  it('prints global, client and rebase generation', () => {
    expect(formatSeqNum({ global: 5, client: 0, rebaseGeneration: 0 })).toBe('e5')
    expect(formatSeqNum({ global: 5, client: 1, rebaseGeneration: 0 })).toBe('e5.1')
    expect(formatSeqNum({ global: 5, client: 0, rebaseGeneration: 1 })).toBe('e5r1')
    expect(formatSeqNum({ global: 5, client: 2, rebaseGeneration: 3 })).toBe('e5.2r3')
  })
})

describe('Leader.append', () => {
  it('logs and materializes a batch in one transaction, numbering after its head', async () => {
    const leader = Leader.open(await SqliteDb.open(), schema, { clientId: 'c1' })
    const result = leader.append([record(1, 'v1.TodoCreated', { id: 'a', text: 'x' }), record(1, 'DraftChanged', { text: 'd' }, true, 1)])
    expect(result.assigned.map(formatSeqNum)).toEqual(['e1', 'e1.1'])
    expect(result.failures).toEqual([])
    expect(leader.readLog().map((e) => [formatSeqNum(e.seqNum), e.name, e.json])).toEqual([
      ['e1', 'v1.TodoCreated', '{"id":"a","text":"x"}'],
      ['e1.1', 'DraftChanged', '{"text":"d"}'],
    ])
    expect(formatSeqNum(leader.head)).toBe('e1.1')
  })

  it('writes its sync bookkeeping again after a transaction that failed at its commit', async () => {
    const db = await SqliteDb.open()
    const leader = Leader.open(db, schema, { clientId: 'c1' })
    leader.append([record(1, 'v1.TodoCreated', { id: 'a', text: '' })])
    // a failure after every statement ran: a deferred constraint fails the COMMIT itself
    db.exec(`PRAGMA foreign_keys = ON;
      CREATE TABLE parent (id INTEGER PRIMARY KEY);
      CREATE TABLE child (parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);
      CREATE TRIGGER late_failure AFTER UPDATE ON __cairn_meta WHEN NEW.key = 'producerSeq' BEGIN INSERT INTO child VALUES (1); END`)
    expect(() => leader.append([record(2, 'v1.TodoCreated', { id: 'b', text: '' })])).toThrow(/FOREIGN KEY/)
    db.exec('DROP TRIGGER late_failure')
    // the same values again: written, though the failed transaction had written them too
    leader.append([record(2, 'v1.TodoCreated', { id: 'b', text: '' })])
    const meta = () =>
      Object.fromEntries(
        db.select(`SELECT key, value FROM __cairn_meta WHERE key IN ('upstreamHead', 'producerSeq')`).map((r) => [r.key, r.value]),
      )
    expect(meta()).toEqual({ upstreamHead: '2', producerSeq: '2' })
    expect(Leader.open(db, schema, { clientId: 'c1' }).head).toEqual({ global: 2, client: 0, rebaseGeneration: 0 })
  })

  it('logs a batch of every size whole, in order, synced and client-only events mixed', async () => {
    const leader = Leader.open(await SqliteDb.open(), schema, { clientId: 'c1' })
    let n = 0
    const ids: string[] = []
    // 64 + 16 + 4 + 1 rows per statement: sizes that end on each of them, and one event
    for (const size of [1, 85, 150, 3]) {
      const batch = Array.from({ length: size }, (_, k) => {
        if (k % 7 === 3) return record(n + k + 1, 'DraftChanged', { text: `d${n + k}` }, true, 1)
        ids.push(`t${n + k}`)
        return record(n + k + 1, 'v1.TodoCreated', { id: `t${n + k}`, text: '' })
      })
      leader.append(batch)
      n += size
    }
    const log = leader.readLog()
    expect(log).toHaveLength(n)
    expect(new Set(log.map((e) => e.eventId)).size).toBe(n)
    expect(log.filter((e) => e.name === 'v1.TodoCreated').map((e) => JSON.parse(e.json).id)).toEqual(ids)
    const db = (leader as unknown as { db: SqliteDb }).db
    expect(db.select(`SELECT count(*) AS n FROM __cairn_eventlog WHERE status = 'confirmed'`)).toEqual([{ n }])
  })

  it('keeps an event whose materializer fails in the leader and reports the failure', async () => {
    const leader = Leader.open(await SqliteDb.open(), schema, { clientId: 'c1' })
    const result = leader.append([
      record(1, 'v1.TodoCreated', { id: 'a', text: 'x' }),
      record(2, 'v1.Boom', { message: 'not deterministic' }),
      record(3, 'v1.TodoCreated', { id: 'b', text: 'y' }),
    ])
    expect(result.failures.map((f) => f.error.eventName)).toEqual(['v1.Boom'])
    expect(leader.eventCount).toBe(3)
    const db = leader as unknown as { db: SqliteDb }
    expect(db.db.select('SELECT id FROM todos ORDER BY id')).toEqual([{ id: 'a' }, { id: 'b' }])
  })
})

/** A synced event as the server orders it (foreign unless `clientId` is ours). */
function ordered(seq: number, eventId: string, id: string, clientId = 'other'): LoggedEvent {
  return {
    seqNum: { global: seq, client: 0, rebaseGeneration: 0 },
    name: 'v1.TodoCreated',
    json: JSON.stringify({ id, text: '' }),
    eventId,
    clientId,
    sessionId: 's2',
    clientOnly: false,
    producerSeq: seq,
  }
}

/** A leader syncing with a server (not the authority) holding `ids.length` pending todos. */
async function syncingLeader(ids: readonly string[]): Promise<{ leader: Leader; db: SqliteDb }> {
  const db = await SqliteDb.open()
  const leader = Leader.open(db, schema, { clientId: 'c1' })
  leader.setAuthority(false)
  leader.append(ids.map((id, k) => ({ ...record(k + 1, 'v1.TodoCreated', { id, text: '' }), eventId: `mine-${id}` })))
  return { leader, db }
}

const logLines = (leader: Leader) => leader.logEntries().map((e) => `${formatSeqNum(e.seqNum)} ${e.eventId} ${e.status}`)

describe('Leader.receiveUpstream', () => {
  it('confirms our oldest pending event at the head of a page and moves the rest past the foreign events after it', async () => {
    // a lost push ack: the server ordered a1, then others' events; a2 and a3 were committed meanwhile
    const { leader, db } = await syncingLeader(['a1', 'a2', 'a3'])
    const [a1] = leader.pending
    const page = [{ ...a1!, seqNum: { global: 1, client: 0, rebaseGeneration: 0 } }, ordered(2, 'b1', 'b1'), ordered(3, 'b2', 'b2')]
    expect(leader.receiveUpstream(page)).toEqual({ ok: true })
    expect(logLines(leader)).toEqual([
      'e1 mine-a1 confirmed',
      'e2 b1 confirmed',
      'e3 b2 confirmed',
      'e4r1 mine-a2 pending',
      'e5r1 mine-a3 pending',
    ])
    expect(leader.upstreamHead).toBe(3)
    expect(leader.pending.map((e) => e.eventId)).toEqual(['mine-a2', 'mine-a3'])
    expect(db.select('SELECT id FROM todos ORDER BY id')).toEqual([{ id: 'a1' }, { id: 'b1' }, { id: 'b2' }])
    // the next page continues from there
    expect(leader.receiveUpstream([ordered(4, 'b3', 'b3')])).toEqual({ ok: true })
    expect(logLines(leader).slice(3)).toEqual(['e4 b3 confirmed', 'e5r2 mine-a2 pending', 'e6r2 mine-a3 pending'])
  })

  it('confirms a prefix of ours, then ours again out of place, with more of ours pending after the page', async () => {
    const { leader } = await syncingLeader(['a1', 'a2', 'a3', 'a4', 'a5'])
    const mine = leader.pending
    const at = (k: number, seq: number) => ({ ...mine[k]!, seqNum: { global: seq, client: 0, rebaseGeneration: 0 } })
    expect(leader.receiveUpstream([at(0, 1), at(1, 2), ordered(3, 'b1', 'b1'), at(2, 4)])).toEqual({ ok: true })
    expect(logLines(leader)).toEqual([
      'e1 mine-a1 confirmed',
      'e2 mine-a2 confirmed',
      'e3 b1 confirmed',
      'e4 mine-a3 confirmed',
      'e5r1 mine-a4 pending',
      'e6r1 mine-a5 pending',
    ])
  })

  it('counts only the confirmed events in the progress of a rebuild, pending ones logged after them', async () => {
    const { leader } = await syncingLeader(['a1', 'a2', 'a3'])
    const [a1] = leader.pending
    leader.receiveUpstream([{ ...a1!, seqNum: { global: 1, client: 0, rebaseGeneration: 0 } }, ordered(2, 'b1', 'b1')])
    expect(logLines(leader)).toEqual(['e1 mine-a1 confirmed', 'e2 b1 confirmed', 'e3r1 mine-a2 pending', 'e4r1 mine-a3 pending'])
    const statuses: BootStatus[] = []
    leader.rematerialize({ onBootStatus: (s) => statuses.push(s) })
    expect(statuses[0]).toEqual({ stage: 'rehydrating', progress: { done: 0, total: 2 } })
    expect(statuses.at(-1)).toEqual({ stage: 'rehydrating', progress: { done: 2, total: 2 } })
  })

  it('changes nothing, in memory either, when a write in its transaction throws (as append)', async () => {
    const { leader, db } = await syncingLeader(['a1', 'a2'])
    const observed = () => ({
      pending: leader.pending,
      upstreamHead: leader.upstreamHead,
      head: leader.head,
      status: leader.status,
      stateToken: leader.snapshot({ inProcess: true }).stateToken,
      log: logLines(leader),
    })
    const before = observed()
    // a write that fails late in the transaction (a full disk, an I/O error): the sync bookkeeping
    // (only what changed is written: the upstream head here, the producerSeq in the append)
    db.exec(
      `CREATE TRIGGER full_disk BEFORE UPDATE ON __cairn_meta WHEN NEW.key IN ('upstreamHead', 'producerSeq') BEGIN SELECT RAISE(ABORT, 'disk full'); END`,
    )
    expect(() => leader.receiveUpstream([ordered(1, 'b1', 'b1')])).toThrow(/disk full/)
    expect(observed()).toEqual(before)
    expect(() => leader.append([{ ...record(3, 'v1.TodoCreated', { id: 'a3', text: '' }), eventId: 'mine-a3' }])).toThrow(/disk full/)
    expect(observed()).toEqual(before)

    db.exec('DROP TRIGGER full_disk')
    expect(leader.receiveUpstream([ordered(1, 'b1', 'b1')])).toEqual({ ok: true })
    expect(logLines(leader)).toEqual(['e1 b1 confirmed', 'e2r1 mine-a1 pending', 'e3r1 mine-a2 pending'])
  })
})

describe('hostLeader', () => {
  it("starts an append's sync once its transaction committed, before the sessions hear of it, and resolves after it", async () => {
    const db = await SqliteDb.open()
    const order: string[] = []
    let synced = () => {}
    const port = hostLeader(db, {
      storeId: 's',
      schema,
      durable: () => {
        order.push(`sync from ${db.select('SELECT count(*) AS n FROM __cairn_eventlog')[0]!.n} logged`)
        return new Promise<void>((resolve) => (synced = resolve))
      },
    })
    port.subscribe((m) => order.push(`told ${m.type}`))
    let appended = false
    const append = port.append([record(1, 'v1.TodoCreated', { id: 'a', text: '' })]).then(() => (appended = true))
    await new Promise((r) => setTimeout(r, 10))
    expect(order).toEqual(['sync from 1 logged', 'told upstream'])
    expect(appended).toBe(false)
    synced()
    await append
  })

  it('rejects an append whose sync failed, with the adapter’s error', async () => {
    const port = hostLeader(await SqliteDb.open(), {
      storeId: 's',
      schema,
      durable: () => Promise.reject(new Error('fdatasync failed')),
      mapError: (e) => new Error(`mapped: ${(e as Error).message}`),
    })
    await expect(port.append([record(1, 'v1.TodoCreated', { id: 'a', text: '' })])).rejects.toThrow('mapped: fdatasync failed')
  })

  it('rejects an append whose sync threw, and still tells the sessions of the committed events', async () => {
    const db = await SqliteDb.open()
    const port = hostLeader(db, {
      storeId: 's',
      schema,
      durable: () => {
        throw new Error('no descriptor')
      },
    })
    const told: string[] = []
    port.subscribe((m) => told.push(m.type))
    await expect(port.append([record(1, 'v1.TodoCreated', { id: 'a', text: '' })])).rejects.toThrow('no descriptor')
    expect(told).toEqual(['upstream'])
    expect(db.select('SELECT count(*) AS n FROM __cairn_eventlog')).toEqual([{ n: 1 }])
  })
})

describe('session boot', () => {
  it('boots a new session from the leader snapshot without replaying events', async () => {
    const adapter = makeInMemoryAdapter()
    const calls = vi.fn()
    const counting = makeSchema({
      events,
      state: State.SQLite.makeState({
        tables,
        materializers: {
          ...materializers,
          'v1.TodoCreated': (args: { id: string; text: string }) => {
            calls()
            return tables.todos.insert(args)
          },
        },
      }),
    })
    const first = await createStorePromise({ schema: counting, adapter, storeId: 's' })
    first.commit(events.todoCreated({ id: 'a', text: '1' }), events.todoCreated({ id: 'b', text: '2' }))
    const last = first.commit(events.draftChanged({ text: 'draft' }))
    await last.persisted
    const clientId = first.clientId
    await first.shutdown()
    // once per event, in the session: the leader runs the session's recorded writes
    expect(calls).toHaveBeenCalledTimes(2)

    const second = await createStorePromise({ schema: counting, adapter, storeId: 's' })
    expect(calls).toHaveBeenCalledTimes(2)
    expect(second.query(queryDb(tables.todos.orderBy('id'))).map((t) => t.id)).toEqual(['a', 'b'])
    expect(second.query(queryDb(tables.drafts))).toEqual([{ id: 'current', text: 'draft' }])
    expect(second.clientId).toBe(clientId)
    expect(second.sessionId).not.toBe(first.sessionId)
    expect(second.syncStatus).toMatchObject({ localHead: 'e2.1', leaderHead: 'e2.1', pending: 0 })
    expect(second.commit(events.todoCreated({ id: 'c', text: '' })).seqNums.map(formatSeqNum)).toEqual(['e3'])
    await second.shutdown()
  })

  it('hands every committed event to the leader before shutdown resolves', async () => {
    const adapter = makeInMemoryAdapter()
    const store = await makeStore({ adapter })
    for (let i = 0; i < 50; i++) store.commit(events.todoCreated({ id: `t${i}`, text: '' }))
    await store.shutdown()
    const again = await makeStore({ adapter })
    expect(again.query(tables.todos.count())).toBe(50)
    await again.shutdown()
  })
})

describe('schema evolution', () => {
  const v2Tables = {
    ...tables,
    todos: State.SQLite.table({
      name: 'todos',
      columns: {
        id: State.SQLite.text({ primaryKey: true }),
        text: State.SQLite.text({ default: '' }),
        completed: State.SQLite.boolean({ default: false }),
        priority: State.SQLite.integer({ default: 0 }),
      },
    }),
  }
  const v2 = makeSchema({ events, state: State.SQLite.makeState({ tables: v2Tables, materializers }) })

  it('has a stable state hash that changes with the tables', () => {
    const again = makeSchema({ events, state: State.SQLite.makeState({ tables, materializers }) })
    expect(again.stateHash).toBe(schema.stateHash)
    expect(v2.stateHash).not.toBe(schema.stateHash)
  })

  it('rebuilds state from the eventlog when the hash changed, reporting progress', async () => {
    const adapter = makeInMemoryAdapter()
    const v1Store = await makeStore({ adapter })
    const batch = Array.from({ length: 4500 }, (_, i) => events.todoCreated({ id: `t${i}`, text: `${i}` }))
    v1Store.commit(...batch)
    v1Store.commit(events.todoCompleted({ id: 't7' }))
    await v1Store.shutdown()

    const progress: BootProgress[] = []
    const v2Store = await createStorePromise({ schema: v2, adapter, storeId: 'test', onBootProgress: (p) => progress.push(p) })
    expect(progress[0]).toEqual({ phase: 'rebuilding', done: 0, total: 4501 })
    expect(progress.at(-1)).toEqual({ phase: 'rebuilding', done: 4501, total: 4501 })
    // reports between the first and last come every ~50 ms of clock (a fast machine may need none
    // here); the 100k rebuild in adapters-platform/node checks the interval
    expect(progress.map((p) => p.done)).toEqual([...progress.map((p) => p.done)].sort((a, b) => a - b))
    expect(v2Store.query(v2Tables.todos.where({ id: 't7' }).first())).toEqual({ id: 't7', text: '7', completed: true, priority: 0 })
    expect(v2Store.query(v2Tables.todos.count())).toBe(4500)
    await v2Store.shutdown()

    // same schema again: no rebuild
    const progressAgain: BootProgress[] = []
    const v2Again = await createStorePromise({ schema: v2, adapter, storeId: 'test', onBootProgress: (p) => progressAgain.push(p) })
    expect(progressAgain).toEqual([])
    await v2Again.shutdown()
  })

  describe('rebuild with indexes', () => {
    const noteAdded = Events.synced({ name: 'v1.NoteAdded', schema: z.object({ id: z.string(), tag: z.string() }) })
    const noteRetagged = Events.synced({ name: 'v1.NoteRetagged', schema: z.object({ id: z.string(), tag: z.string() }) })
    const tagCounted = Events.synced({ name: 'v1.TagCounted', schema: z.object({ tag: z.string() }) })
    const noteEvents = { noteAdded, noteRetagged, tagCounted }
    const notesSchema = (indexed: boolean, plans: string[] = []) => {
      const notes = State.SQLite.table({
        name: 'notes',
        columns: { id: State.SQLite.text({ primaryKey: true }), tag: State.SQLite.text() },
        indexes: indexed ? [{ name: 'notes_tag', columns: ['tag'] }] : [],
      })
      const counts = State.SQLite.table({
        name: 'counts',
        columns: { tag: State.SQLite.text({ primaryKey: true }), n: State.SQLite.integer() },
      })
      const materializers = State.SQLite.materializers(noteEvents, {
        'v1.NoteAdded': ({ id, tag }) => notes.insert({ id, tag }),
        'v1.NoteRetagged': ({ id, tag }) => notes.update({ tag }).where({ id }),
        'v1.TagCounted': ({ tag }, ctx) => {
          const plan = ctx.query({ query: 'EXPLAIN QUERY PLAN SELECT count(*) FROM notes WHERE tag = ?', bindValues: [tag] })
          plans.push(plan.map((r) => String(r.detail)).join('; '))
          const n = ctx.query({ query: 'SELECT count(*) AS n FROM notes WHERE tag = ?', bindValues: [tag] })[0]!.n as number
          return counts.insert({ tag, n }).onConflict('tag', 'replace')
        },
      })
      return makeSchema({ events: noteEvents, state: State.SQLite.makeState({ tables: { notes, counts }, materializers }) })
    }

    it('has every index after the rebuild, and before any read of a materializer', async () => {
      const adapter = makeInMemoryAdapter()
      const v1 = await createStorePromise({ schema: notesSchema(false), adapter, storeId: 'n' })
      v1.commit(...Array.from({ length: 700 }, (_, i) => noteAdded({ id: `n${i}`, tag: `t${i % 7}` })))
      v1.commit(tagCounted({ tag: 't3' }), noteAdded({ id: 'last', tag: 't3' }), tagCounted({ tag: 't3' }))
      await v1.shutdown()

      const plans: string[] = []
      const v2 = await createStorePromise({ schema: notesSchema(true, plans), adapter, storeId: 'n' })
      // the materializer read the state as the events before it left it, with the index there
      expect(plans).toHaveLength(2)
      for (const plan of plans) expect(plan).toMatch(/USING COVERING INDEX notes_tag/)
      expect(v2.query(queryDb({ query: 'SELECT tag, n FROM counts' }))).toEqual([{ tag: 't3', n: 101 }])
      expect(v2.query(queryDb({ query: "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'notes_tag'" }))).toHaveLength(1)
      expect(v2.query(queryDb({ query: "SELECT count(*) AS n FROM notes WHERE tag = 't0'" }))).toEqual([{ n: 100 }])
      await v2.shutdown()
    })

    it('builds the indexes after the rows of a log of inserts, and before an update that may use them', async () => {
      const adapter = makeInMemoryAdapter()
      const v1 = await createStorePromise({ schema: notesSchema(false), adapter, storeId: 'n' })
      v1.commit(...Array.from({ length: 1200 }, (_, i) => noteAdded({ id: `n${i}`, tag: `t${i % 3}` })))
      v1.commit(noteRetagged({ id: 'n4', tag: 'moved' }))
      v1.commit(...Array.from({ length: 600 }, (_, i) => noteAdded({ id: `m${i}`, tag: 'moved' })))
      await v1.shutdown()

      const v2 = await createStorePromise({ schema: notesSchema(true), adapter, storeId: 'n' })
      const byTag = (tag: string) => v2.query(queryDb({ query: 'SELECT count(*) AS n FROM notes WHERE tag = ?', bindValues: [tag] }))[0]!.n
      expect([byTag('t0'), byTag('t1'), byTag('t2'), byTag('moved')]).toEqual([400, 399, 400, 601])
      // the index holds every row, those written before it was built and after
      const viaIndex = v2.query(queryDb({ query: "SELECT count(*) AS n FROM notes INDEXED BY notes_tag WHERE tag = 'moved'" }))
      expect(viaIndex).toEqual([{ n: 601 }])
      expect(v2.query(queryDb({ query: 'PRAGMA integrity_check' }))).toEqual([{ integrity_check: 'ok' }])
      await v2.shutdown()
    })
  })

  describe('unknown events', () => {
    const extraEvent = Events.synced({ name: 'v2.TodoArchived', schema: z.object({ id: z.string() }) })
    const newer = makeSchema({
      events: { ...events, extraEvent },
      state: State.SQLite.makeState({ tables, materializers: { ...materializers, 'v2.TodoArchived': () => {} } }),
    })
    const olderWithChangedTables = (unknownEventHandling: 'warn' | 'ignore' | 'fail') =>
      makeSchema({ events, state: State.SQLite.makeState({ tables: v2Tables, materializers }), unknownEventHandling })

    async function logWithUnknownEvent() {
      const adapter = makeInMemoryAdapter()
      const store = await createStorePromise({ schema: newer, adapter, storeId: 'u' })
      store.commit(events.todoCreated({ id: 'a', text: '' }), extraEvent({ id: 'a' }), events.todoCreated({ id: 'b', text: '' }))
      await store.shutdown()
      return adapter
    }

    it("keeps and skips them with 'warn', warning once per name", async () => {
      const adapter = await logWithUnknownEvent()
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
      const store = await createStorePromise({ schema: olderWithChangedTables('warn'), adapter, storeId: 'u' })
      expect(warn).toHaveBeenCalledTimes(1)
      expect(String(warn.mock.calls[0]![0])).toMatch(/"v2\.TodoArchived".*kept and skipped/)
      warn.mockRestore()
      expect(store.query(tables.todos.count())).toBe(2)
      expect(store.syncStatus.leaderHead).toBe('e3') // the unknown event is still in the log
      await store.shutdown()
    })

    it("skips them silently with 'ignore'", async () => {
      const adapter = await logWithUnknownEvent()
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
      const store = await createStorePromise({ schema: olderWithChangedTables('ignore'), adapter, storeId: 'u' })
      expect(warn).not.toHaveBeenCalled()
      warn.mockRestore()
      await store.shutdown()
    })

    it("refuses to boot with 'fail', naming the event", async () => {
      const adapter = await logWithUnknownEvent()
      const attempt = createStorePromise({ schema: olderWithChangedTables('fail'), adapter, storeId: 'u' })
      await expect(attempt).rejects.toThrow(UnknownEventError)
      await expect(createStorePromise({ schema: olderWithChangedTables('fail'), adapter, storeId: 'u' })).rejects.toThrow(
        /v2\.TodoArchived/,
      )
      // the failed boot left the log intact: the newer schema still boots with all events
      const store = await createStorePromise({ schema: newer, adapter, storeId: 'u' })
      expect(store.syncStatus.leaderHead).toBe('e3')
      await store.shutdown()
    })
  })
})

describe('SqliteDb.recordChanges', () => {
  it('records a changeset whose revert restores the previous state exactly', async () => {
    const db = await SqliteDb.open()
    db.exec('CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER); CREATE TABLE r (x INTEGER)')
    db.run("INSERT INTO t VALUES ('a', 1), ('b', 2)")
    const before = db.select('SELECT * FROM t ORDER BY id')
    const { changeset, tables: written } = db.recordChanges(() => {
      db.run("UPDATE t SET v = 10 WHERE id = 'a'")
      db.run("DELETE FROM t WHERE id = 'b'")
      db.run("INSERT INTO t VALUES ('c', 3)")
      db.run('INSERT INTO r VALUES (7)') // a rowid table without primary key
    })
    expect([...written].sort()).toEqual(['r', 't'])
    expect(db.revertChanges(changeset!)).toEqual(new Set(['t', 'r']))
    expect(db.select('SELECT * FROM t ORDER BY id')).toEqual(before)
    expect(db.select('SELECT count(*) AS n FROM r')).toEqual([{ n: 0 }])
  })

  it('returns no changeset and no tables when nothing changed', async () => {
    const db = await SqliteDb.open()
    db.exec('CREATE TABLE t (id TEXT PRIMARY KEY)')
    expect(db.recordChanges(() => db.run("DELETE FROM t WHERE id = 'x'"))).toEqual({ changeset: null, tables: new Set() })
  })

  it('refuses to revert onto a state that no longer matches', async () => {
    const db = await SqliteDb.open()
    db.exec('CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER)')
    const { changeset } = db.recordChanges(() => db.run("INSERT INTO t VALUES ('a', 1)"))
    db.run("UPDATE t SET v = 2 WHERE id = 'a'")
    expect(() => db.revertChanges(changeset!)).toThrow(/conflicted/)
    expect(db.select('SELECT * FROM t')).toEqual([{ id: 'a', v: 2 }])
  })
})

describe('newEventId', () => {
  it('gives distinct v7 UUIDs in ascending order, carrying the time, across refills of its random pool', () => {
    const before = Date.now()
    const ids = Array.from({ length: 5000 }, () => newEventId())
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(new Set(ids).size).toBe(ids.length)
    expect([...ids].sort()).toEqual(ids)
    const ms = parseInt(ids[0]!.slice(0, 8) + ids[0]!.slice(9, 13), 16)
    expect(ms).toBeGreaterThanOrEqual(before)
    expect(ms).toBeLessThanOrEqual(Date.now() + 5)
  })

  it('stays ascending when the clock steps back', () => {
    const now = vi.spyOn(Date, 'now')
    try {
      now.mockReturnValue(2_000_000_000_000)
      const a = newEventId()
      now.mockReturnValue(1_000_000_000_000)
      const b = newEventId()
      expect(b > a).toBe(true)
    } finally {
      now.mockRestore()
    }
  })

  it('gives the same ids in batches: v7, distinct, ascending with the ids made before and after, through clock steps back', () => {
    const now = vi.spyOn(Date, 'now')
    try {
      now.mockReturnValue(3_000_000_000_000)
      const first = newEventId()
      const batch = newEventIds(6000) // more than the 4,096 of one millisecond, and a pool refill
      now.mockReturnValue(2_500_000_000_000)
      const small = newEventIds(3)
      const back = newEventIds(100)
      const last = newEventId()
      const ids = [first, ...batch, ...small, ...back, last]
      for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(new Set(ids).size).toBe(ids.length)
      expect([...ids].sort()).toEqual(ids)
      expect(parseInt(batch[0]!.slice(0, 8) + batch[0]!.slice(9, 13), 16)).toBe(3_000_000_000_000)
    } finally {
      now.mockRestore()
    }
  })
})
