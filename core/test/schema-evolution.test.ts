// Apps change: the state is rebuilt when what produces it changed (tables, materializers), on
// demand with store.rematerialize(), events unknown to an older release are kept and count once
// the app is upgraded, and an event's args evolve through a new version with migrate.
import {
  CairnError,
  createStorePromise,
  Events,
  Leader,
  makeInMemoryAdapter,
  makeSchema,
  MaterializerError,
  queryDb,
  SchemaError,
  SqliteDb,
  State,
  StoreShutdownError,
  type Adapter,
  type BootStatus,
  type MaterializerContext,
  type Schema,
} from '@cairn/core'
import { makeInMemorySyncServer } from '@cairn/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  events,
  itemAddedV1,
  itemAddedV2,
  items,
  itemsAppV1,
  itemsAppV2,
  release1,
  release2,
  release3,
  syncedRows,
  tables,
} from './evolution-fixtures.ts'
import { until } from './sync-helpers.ts'

const todos = queryDb({ query: 'SELECT id, text, completed FROM todos ORDER BY id' })

/** Opens store 's' with `schema` on `adapter`, recording its boot stages. */
async function open(schema: Schema, adapter: Adapter, extra: { sync?: Parameters<typeof createStorePromise>[0]['sync'] } = {}) {
  const stages: BootStatus[] = []
  const errors: unknown[] = []
  const store = await createStorePromise({
    schema,
    adapter,
    storeId: 's',
    onBootStatus: (s) => stages.push(s),
    onError: (e) => errors.push(e),
    ...extra,
  })
  return { store, stages, errors }
}

const rebuilt = (stages: readonly BootStatus[]) => stages.some((s) => s.stage === 'rehydrating')

/** Release 2 with some of its materializers replaced (another state version, the same tables). */
const release2With = (materializers: Record<string, (...args: never[]) => unknown>) =>
  makeSchema({
    events: release2.events,
    state: State.SQLite.makeState({ tables, materializers: { ...Object.fromEntries(release2.materializers), ...materializers } }),
  })

/** A leader on `db` (release 2) whose log holds one confirmed v1.TodoCreated of todo 'a'. */
function leaderWithTodoA(db: SqliteDb): Leader {
  const leader = Leader.open(db, release2, { clientId: 'c' })
  leader.append([
    {
      ...events.todoCreated({ id: 'a', text: 'x' }),
      seqNum: { global: 1, client: 0, rebaseGeneration: 0 },
      eventId: 'e1',
      clientId: 'c',
      sessionId: 's',
      clientOnly: false,
      json: '{"id":"a","text":"x"}',
    },
  ])
  return leader
}

describe('makeSchema: materializer hashes', () => {
  it('names each event by its materializer: the same functions give the same hashes, a changed one changes only its own', () => {
    expect(release2.materializerHashes.get('v1.TodoCreated')).toBe(release1.materializerHashes.get('v1.TodoCreated'))
    expect(release2.materializerHashes.has('v1.TodoDeleted')).toBe(true)
    expect(release1.materializerHashes.has('v1.TodoDeleted')).toBe(false)
    expect(release3.materializerHashes.get('v1.TodoCreated')).not.toBe(release2.materializerHashes.get('v1.TodoCreated'))
    expect(release3.materializerHashes.get('v1.TodoCompleted')).toBe(release2.materializerHashes.get('v1.TodoCompleted'))
    // the tables did not change
    expect(release3.stateHash).toBe(release1.stateHash)
  })

  it("with makeState's version, every event is known by the version, whatever the source", () => {
    const withVersion = (schema: Schema, version: number) =>
      makeSchema({
        events: schema.events,
        state: State.SQLite.makeState({ tables, materializers: Object.fromEntries(schema.materializers), version }),
      })
    expect(withVersion(release2, 1).materializerHashes).toEqual(withVersion(release3, 1).materializerHashes)
    expect(withVersion(release2, 2).materializerHashes.get('v1.TodoCompleted')).not.toBe(
      withVersion(release2, 1).materializerHashes.get('v1.TodoCompleted'),
    )
  })

  it('refuses a version that is not a number or a non-empty string', () => {
    expect(() => State.SQLite.makeState({ tables, materializers: {}, version: '' })).toThrow(SchemaError)
    expect(() => State.SQLite.makeState({ tables, materializers: {}, version: Number.NaN })).toThrow(
      /version must be a number or a non-empty string/,
    )
  })
})

describe('state version: rebuilt at boot when what produces it changed', () => {
  it('rebuilds when only a materializer changed (same tables), reporting progress', async () => {
    const adapter = makeInMemoryAdapter()
    const v2 = await open(release2, adapter)
    v2.store.commit(events.todoCreated({ id: 'a', text: '  padded  ' }), events.todoCompleted({ id: 'a' }))
    await v2.store.shutdown()

    const v3 = await open(release3, adapter)
    expect(v3.stages).toEqual([
      { stage: 'loading' },
      { stage: 'rehydrating', progress: { done: 0, total: 2 } },
      { stage: 'rehydrating', progress: { done: 2, total: 2 } },
      { stage: 'done' },
    ])
    expect(v3.store.query(todos)).toEqual([{ id: 'a', text: 'padded', completed: 1 }])
    await v3.store.shutdown()
    // the new hashes are kept: the next boot does not rebuild again
    const again = await open(release3, adapter)
    expect(again.stages.map((s) => s.stage)).toEqual(['loading', 'done'])
    await again.store.shutdown()
  })

  it('does not rebuild for a changed materializer whose event is not in the log', async () => {
    const adapter = makeInMemoryAdapter()
    const first = await open(release2, adapter)
    first.store.commit(events.todoCreated({ id: 'a', text: 'x' }))
    await first.store.shutdown()
    const otherDelete = release2With({
      'v1.TodoDeleted': ({ id }: { id: string }) => tables.todos.update({ completed: true }).where({ id }),
    })
    const second = await open(otherDelete, adapter)
    expect(rebuilt(second.stages)).toBe(false)
    await second.store.shutdown()
    // it is remembered: a later v1.TodoDeleted in the log and the old logic back rebuilds
    const third = await open(otherDelete, adapter)
    await third.store.commit(events.todoDeleted({ id: 'a' })).persisted
    await third.store.shutdown()
    const fourth = await open(release2, adapter)
    expect(rebuilt(fourth.stages)).toBe(true)
    expect(fourth.store.query(todos)).toEqual([])
    await fourth.store.shutdown()
  })

  it("with makeState's version, rebuilds when the version changes, not when only the source does", async () => {
    const at = (schema: Schema, version: number) =>
      makeSchema({
        events: schema.events,
        state: State.SQLite.makeState({ tables, materializers: Object.fromEntries(schema.materializers), version }),
      })
    const adapter = makeInMemoryAdapter()
    const first = await open(at(release2, 1), adapter)
    first.store.commit(events.todoCreated({ id: 'a', text: ' x ' }))
    await first.store.shutdown()
    const sameVersion = await open(at(release3, 1), adapter)
    expect(rebuilt(sameVersion.stages)).toBe(false)
    expect(sameVersion.store.query(todos)).toEqual([{ id: 'a', text: ' x ', completed: 0 }])
    await sameVersion.store.shutdown()
    const bumped = await open(at(release3, 2), adapter)
    expect(rebuilt(bumped.stages)).toBe(true)
    expect(bumped.store.query(todos)).toEqual([{ id: 'a', text: 'x', completed: 0 }])
    await bumped.store.shutdown()
  })

  it('skips and reports an event whose new materializer fails, instead of refusing to boot', async () => {
    const adapter = makeInMemoryAdapter()
    const first = await open(release2, adapter)
    first.store.commit(events.todoCreated({ id: 'a', text: 'x' }), events.todoCreated({ id: 'b', text: 'y' }))
    await first.store.commit(events.todoCompleted({ id: 'a' }), events.todoCompleted({ id: 'b' })).persisted
    await first.store.shutdown()
    const strict = release2With({
      'v1.TodoCompleted': ({ id }: { id: string }) => {
        if (id === 'a') throw new Error('a cannot be completed any more')
        return tables.todos.update({ completed: true }).where({ id })
      },
    })
    const second = await open(strict, adapter)
    expect(rebuilt(second.stages)).toBe(true)
    expect(second.store.query(todos)).toEqual([
      { id: 'a', text: 'x', completed: 0 },
      { id: 'b', text: 'y', completed: 1 },
    ])
    expect(second.errors).toHaveLength(1)
    expect(second.errors[0]).toBeInstanceOf(MaterializerError)
    expect((second.errors[0] as Error).message).toMatch(/"v1\.TodoCompleted" threw: a cannot be completed any more/)
    await second.store.shutdown()
  })

  describe('the inserts of a page run together', () => {
    // release 2 replaced a todo created twice; the strict release refuses the second one, and
    // completing reads how many todos exist so far
    const lenient = release2With({
      'v1.TodoCreated': ({ id, text }: { id: string; text: string }) => tables.todos.insert({ id, text }).onConflict('id', 'replace'),
    })
    const strict = (seen: number[]) =>
      release2With({
        'v1.TodoCreated': ({ id, text }: { id: string; text: string }) => tables.todos.insert({ id, text }),
        'v1.TodoCompleted': ({ id }: { id: string }, ctx: MaterializerContext) => {
          seen.push((ctx.query({ query: 'SELECT count(*) AS n FROM todos', bindValues: [] }) as { n: number }[])[0]!.n)
          return tables.todos.update({ completed: true }).where({ id })
        },
      })
    const created = Array.from({ length: 300 }, (_, i) => events.todoCreated({ id: `t${String(i).padStart(3, '0')}`, text: `${i}` }))
    const completedIds = (rows: { id: string; completed: number }[]) => rows.filter((r) => r.completed === 1).map((r) => r.id)

    it("a materializer's read sees every row inserted before it", async () => {
      const adapter = makeInMemoryAdapter()
      const first = await open(lenient, adapter)
      first.store.commit(...created.slice(0, 150))
      first.store.commit(events.todoCompleted({ id: 't149' }))
      await first.store.commit(...created.slice(150)).persisted
      await first.store.shutdown()
      const seen: number[] = []
      const second = await open(strict(seen), adapter)
      expect(rebuilt(second.stages)).toBe(true)
      expect(seen).toEqual([150])
      const rows = second.store.query(todos) as { id: string; text: string; completed: number }[]
      expect(rows).toHaveLength(300)
      expect(completedIds(rows)).toEqual(['t149'])
      expect(second.errors).toEqual([])
      await second.store.shutdown()
    })

    it('an insert that fails skips only its own event, reported by name', async () => {
      const adapter = makeInMemoryAdapter()
      const first = await open(lenient, adapter)
      first.store.commit(...created.slice(0, 150))
      first.store.commit(events.todoCreated({ id: 't007', text: 'again' }))
      first.store.commit(events.todoCompleted({ id: 't149' }))
      await first.store.commit(...created.slice(150)).persisted
      await first.store.shutdown()
      const seen: number[] = []
      const second = await open(strict(seen), adapter)
      expect(rebuilt(second.stages)).toBe(true)
      const rows = second.store.query(todos) as { id: string; text: string; completed: number }[]
      expect(rows).toHaveLength(300)
      expect(rows.find((r) => r.id === 't007')!.text).toBe('7')
      expect(completedIds(rows)).toEqual(['t149'])
      expect(seen.at(-1)).toBe(150)
      expect(second.errors).toHaveLength(1)
      expect(second.errors[0]).toBeInstanceOf(MaterializerError)
      expect((second.errors[0] as MaterializerError).message).toMatch(/"v1\.TodoCreated" violates a constraint on todos\.id/)
      await second.store.shutdown()
    })
  })

  it("spills the rebuild's pages even where the adapter keeps a transaction in memory, and keeps the adapter's setting after", async () => {
    const db = await SqliteDb.open()
    db.exec('PRAGMA cache_spill = OFF') // as adapter-node sets it
    leaderWithTodoA(db)
    const during: unknown[] = []
    const changed = release2With({
      'v1.TodoCreated': ({ id, text }: { id: string; text: string }, ctx: MaterializerContext) => {
        during.push((ctx.query({ query: 'PRAGMA cache_spill', bindValues: [] }) as { cache_spill: number }[])[0]!.cache_spill)
        return tables.todos.insert({ id, text })
      },
    })
    const statuses: BootStatus[] = []
    Leader.open(db, changed, { clientId: 'c', onBootStatus: (s) => statuses.push(s) })
    expect(statuses.some((s) => s.stage === 'rehydrating')).toBe(true)
    expect(during).toHaveLength(1)
    expect(during[0]).toBeGreaterThan(0)
    expect(db.select('PRAGMA cache_spill')).toEqual([{ cache_spill: 0 }])
    expect(db.select('SELECT id, text FROM todos')).toEqual([{ id: 'a', text: 'x' }])
  })

  it('rebuilds once a state kept before materializer hashes existed', async () => {
    const db = await SqliteDb.open()
    leaderWithTodoA(db)
    db.run(`DELETE FROM __cairn_meta WHERE key = 'materializers'`)
    const statuses: BootStatus[] = []
    Leader.open(db, release2, { clientId: 'c', onBootStatus: (s) => statuses.push(s) })
    expect(statuses.at(-1)).toEqual({ stage: 'rehydrating', progress: { done: 1, total: 1 } })
    const again: BootStatus[] = []
    Leader.open(db, release2, { clientId: 'c', onBootStatus: (s) => again.push(s) })
    expect(again).toEqual([])
    expect(db.select('SELECT id, text FROM todos')).toEqual([{ id: 'a', text: 'x' }])
  })
})

describe('unknown events are kept, and count once the app knows them', () => {
  it('an old client upgraded ends with the same rows as a client that knew the event all along', async () => {
    const server = makeInMemorySyncServer()
    const oldAdapter = makeInMemoryAdapter()
    const sync = () => ({ sync: { backend: server.backend() } })
    const old = await open(release1, oldAdapter, sync())
    const fresh = await open(release2, makeInMemoryAdapter(), sync())
    old.store.commit(events.todoCreated({ id: 'a', text: 'from old' }), events.todoCreated({ id: 'b', text: 'kept' }))
    await until(() => fresh.store.syncStatus.leaderHead === 'e2')
    fresh.store.commit(events.todoDeleted({ id: 'a' }), events.todoCompleted({ id: 'b' }))
    const settled = () => [old, fresh].every((c) => c.store.syncStatus.pending === 0 && c.store.syncStatus.localHead === 'e4')
    await until(settled, () => JSON.stringify([old.store.syncStatus, fresh.store.syncStatus]))
    // release 1 skipped v1.TodoDeleted: it still shows 'a'
    expect(old.store.query(todos).map((t) => t.id)).toEqual(['a', 'b'])
    expect(syncedRows(old.store)).not.toEqual(syncedRows(fresh.store))
    // ...but its log holds the event as it came
    const entry = (log: Awaited<ReturnType<typeof old.store.readEventlog>>) =>
      log.filter((e) => e.name === 'v1.TodoDeleted').map((e) => [e.eventId, e.json, e.status])
    expect(entry(await old.store.readEventlog())).toEqual(entry(await fresh.store.readEventlog()))
    await old.store.shutdown()

    // the upgrade: release 2 on the old client's leader storage
    const upgraded = await open(release2, oldAdapter, sync())
    expect(rebuilt(upgraded.stages)).toBe(true)
    expect(syncedRows(upgraded.store)).toEqual(syncedRows(fresh.store))
    expect(upgraded.store.query(todos)).toEqual([{ id: 'b', text: 'kept', completed: 1 }])
    expect([...old.errors, ...fresh.errors, ...upgraded.errors]).toEqual([])
    await upgraded.store.shutdown()
    await fresh.store.shutdown()
  })
})

describe('unknown events: property', () => {
  /**
   * An old and a new client commit at random (the old one going offline at times), then the old
   * one is upgraded: its rows equal the new client's and those of a client that boots with the new
   * release from the server. `EVOLVE_RUNS` raises the runs; `EVOLVE_SEED` replays a printed seed.
   */
  const runs = Number(process.env.EVOLVE_RUNS ?? 8)
  const replay = process.env.EVOLVE_SEED === undefined ? {} : { seed: Number(process.env.EVOLVE_SEED) }
  type Step =
    { kind: 'commit'; newer: boolean; event: number; target: number } | { kind: 'offline' | 'online' } | { kind: 'wait'; ticks: number }
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('commit' as const), newer: fc.boolean(), event: fc.nat(2), target: fc.nat(5) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('offline' as const, 'online' as const) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), ticks: fc.integer({ min: 1, max: 5 }) }) },
  )

  it('an upgraded client always ends with the rows of the clients that ran the newer release', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.array(step, { maxLength: 25 }), async (seed, steps) => {
        const server = makeInMemorySyncServer({ seed })
        const oldAdapter = makeInMemoryAdapter()
        const oldBackend = server.backend({ name: 'old' })
        const errors: unknown[] = []
        const open = (schema: Schema, adapter: Adapter, backend = server.backend()) =>
          createStorePromise({ schema, adapter, storeId: 's', sync: { backend }, onError: (e) => errors.push(e) })
        const old = await open(release1, oldAdapter, oldBackend)
        const newer = await open(release2, makeInMemoryAdapter())
        let created = 0
        for (const s of steps) {
          if (s.kind === 'wait') for (let i = 0; i < s.ticks; i++) await new Promise((r) => setTimeout(r, 0))
          else if (s.kind !== 'commit') oldBackend.setOnline(s.kind === 'online')
          else {
            const store = s.newer ? newer : old
            const id = `t${s.target}`
            // release 1 has no delete: it completes instead
            if (s.event === 0) store.commit(events.todoCreated({ id: `t${created++}`, text: s.newer ? 'new' : 'old' }))
            else if (s.event === 1 || !s.newer) store.commit(events.todoCompleted({ id }))
            else store.commit(events.todoDeleted({ id }))
          }
        }
        oldBackend.setOnline(true)
        await server.settled([old, newer])
        await old.shutdown()
        const upgraded = await open(release2, oldAdapter)
        const late = await open(release2, makeInMemoryAdapter())
        await server.settled([upgraded, newer, late])
        expect(syncedRows(upgraded)).toEqual(syncedRows(newer))
        expect(syncedRows(late)).toEqual(syncedRows(newer))
        expect(errors).toEqual([])
        await Promise.all([upgraded.shutdown(), newer.shutdown(), late.shutdown()])
      }),
      { numRuns: runs, ...replay },
    )
  })
})

describe('store.rematerialize', () => {
  it('rebuilds from the log with the running materializers, reporting progress; log and pending events unchanged', async () => {
    // a helper the materializer calls: a change the schema's hash cannot see
    let suffix = ''
    const todoCreated = Events.synced({ name: 'v1.TodoCreated', schema: z.object({ id: z.string(), text: z.string() }) })
    const schema = makeSchema({
      events: { todoCreated },
      state: State.SQLite.makeState({
        tables: { todos: tables.todos },
        materializers: {
          'v1.TodoCreated': ({ id, text }: { id: string; text: string }) => tables.todos.insert({ id, text: text + suffix }),
        },
      }),
    })
    const server = makeInMemorySyncServer()
    const backend = server.backend()
    const { store, stages, errors } = await open(schema, makeInMemoryAdapter(), { sync: { backend } })
    await store.commit(todoCreated({ id: 'a', text: 'confirmed' })).confirmed
    backend.setOnline(false)
    await store.commit(todoCreated({ id: 'b', text: 'pending' })).persisted
    const log = await store.readEventlog()
    expect(log.map((e) => e.status)).toEqual(['confirmed', 'pending'])
    stages.length = 0

    suffix = '!'
    // committed just before: not yet handed to the leader
    store.commit(todoCreated({ id: 'c', text: 'in flight' }))
    await store.rematerialize()
    expect(stages).toEqual([
      { stage: 'rehydrating', progress: { done: 0, total: 1 } },
      { stage: 'rehydrating', progress: { done: 1, total: 1 } },
      { stage: 'done' },
    ])
    expect(store.query(todos)).toEqual([
      { id: 'a', text: 'confirmed!', completed: 0 },
      { id: 'b', text: 'pending!', completed: 0 },
      { id: 'c', text: 'in flight!', completed: 0 },
    ])
    const after = await store.readEventlog()
    expect(after.slice(0, 2)).toEqual(log)
    expect(after.map((e) => [e.name, e.json, e.status])).toEqual([
      ['v1.TodoCreated', '{"id":"a","text":"confirmed"}', 'confirmed'],
      ['v1.TodoCreated', '{"id":"b","text":"pending"}', 'pending'],
      ['v1.TodoCreated', '{"id":"c","text":"in flight"}', 'pending'],
    ])
    expect(store.syncStatus.pending).toBe(2)
    // the pending events still reach the server
    backend.setOnline(true)
    await until(() => store.syncStatus.pending === 0 && server.head('s') === 3)
    expect(errors).toEqual([])
    await store.shutdown()
  })

  it('is refused after shutdown, and by an adapter whose leader cannot rebuild, saying what to do', async () => {
    const { store } = await open(release2, makeInMemoryAdapter())
    await store.shutdown()
    await expect(store.rematerialize()).rejects.toThrow(StoreShutdownError)

    const inner = makeInMemoryAdapter()
    const withoutRebuild: Adapter = {
      name: 'minimal',
      async openLeader(options) {
        const { rematerialize: _, ...port } = await inner.openLeader(options)
        return port
      },
    }
    const minimal = await open(release2, withoutRebuild)
    const attempt = minimal.store.rematerialize()
    await expect(attempt).rejects.toThrow(CairnError)
    await expect(minimal.store.rematerialize()).rejects.toThrow(/cannot rebuild on demand.*makeState's version/)
    await minimal.store.shutdown()
  })
})

describe('event versions: from + migrate', () => {
  const v1 = itemAddedV1
  const v2 = itemAddedV2
  const appV1 = itemsAppV1
  const appV2 = itemsAppV2
  const rows = queryDb({ query: 'SELECT id, title, priority FROM items ORDER BY id' })

  it('keeps v1 events as logged; the v2 materializer gets them migrated, after a boot that rebuilds', async () => {
    const adapter = makeInMemoryAdapter()
    const old = await open(appV1, adapter)
    old.store.commit(v1({ id: 'a', title: 'plain' }), v1({ id: 'b', title: '!urgent' }))
    await old.store.shutdown()

    const upgraded = await open(appV2, adapter)
    expect(rebuilt(upgraded.stages)).toBe(true)
    upgraded.store.commit(v2({ id: 'c', title: 'new', priority: 5 }))
    // an old code path may still commit v1: the schema knows it through from
    const last = upgraded.store.commit(v1({ id: 'd', title: '!old path' }))
    expect(upgraded.store.query(rows)).toEqual([
      { id: 'a', title: 'plain', priority: 0 },
      { id: 'b', title: '!urgent', priority: 1 },
      { id: 'c', title: 'new', priority: 5 },
      { id: 'd', title: '!old path', priority: 1 },
    ])
    await last.persisted
    expect((await upgraded.store.readEventlog()).map((e) => [e.name, e.json])).toEqual([
      ['v1.ItemAdded', '{"id":"a","title":"plain"}'],
      ['v1.ItemAdded', '{"id":"b","title":"!urgent"}'],
      ['v2.ItemAdded', '{"id":"c","title":"new","priority":5}'],
      ['v1.ItemAdded', '{"id":"d","title":"!old path"}'],
    ])
    await upgraded.store.shutdown()
    // the leader's state (a reopen) agrees with the session's
    const again = await open(appV2, adapter)
    expect(rebuilt(again.stages)).toBe(false)
    expect(again.store.query(rows).map((r) => r.priority)).toEqual([0, 1, 5, 1])
    await again.store.shutdown()
  })

  it('chains versions: v1 -> v2 -> v3, each migrate applied in turn', async () => {
    const v3 = Events.synced({
      name: 'v3.ItemAdded',
      schema: z.object({ id: z.string(), title: z.string(), priority: z.number() }),
      from: v2,
      migrate: (args) => ({ ...args, title: args.title.toUpperCase() }),
    })
    const app = makeSchema({
      events: { v3 },
      state: State.SQLite.makeState({
        tables: { items },
        materializers: State.SQLite.materializers({ v3 }, { 'v3.ItemAdded': (a) => items.insert(a) }),
      }),
    })
    expect([...app.eventsByName.keys()].sort()).toEqual(['v1.ItemAdded', 'v2.ItemAdded', 'v3.ItemAdded'])
    const { store } = await open(app, makeInMemoryAdapter())
    store.commit(v1({ id: 'a', title: '!one' }), v2({ id: 'b', title: 'two', priority: 7 }), v3({ id: 'c', title: 'three', priority: 2 }))
    expect(store.query(rows)).toEqual([
      { id: 'a', title: '!ONE', priority: 1 },
      { id: 'b', title: 'TWO', priority: 7 },
      { id: 'c', title: 'three', priority: 2 },
    ])
    await store.shutdown()
  })

  it('a migrate that returns bad args fails that event with a MaterializerError naming both versions', async () => {
    const broken = Events.synced({
      name: 'v2.ItemAdded',
      schema: z.object({ id: z.string(), title: z.string(), priority: z.number() }),
      from: v1,
      migrate: (args) => ({ ...args, priority: 'high' as unknown as number }),
    })
    const app = makeSchema({
      events: { broken },
      state: State.SQLite.makeState({
        tables: { items },
        materializers: State.SQLite.materializers({ broken }, { 'v2.ItemAdded': (a) => items.insert(a) }),
      }),
    })
    const { store } = await open(app, makeInMemoryAdapter())
    let error: unknown
    try {
      store.commit(v1({ id: 'a', title: 'x' }))
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(MaterializerError)
    expect((error as MaterializerError).eventName).toBe('v1.ItemAdded')
    expect((error as Error).message).toMatch(/Migrating "v1\.ItemAdded" to "v2\.ItemAdded" failed: .*priority.*Fix migrate/)
    store.commit(broken({ id: 'b', title: 'y', priority: 1 }))
    expect(store.query(rows)).toEqual([{ id: 'b', title: 'y', priority: 1 }])
    await store.shutdown()
  })

  it('refuses inconsistent versions with a SchemaError saying what to change', () => {
    const schema = z.object({ id: z.string(), title: z.string() })
    expect(() => Events.synced({ name: 'v2.X', schema, migrate: (a: unknown) => a as never })).toThrow(/has migrate but no from/)
    expect(() => Events.synced({ name: 'v2.X', schema, from: v1 })).toThrow(/has from \("v1\.ItemAdded"\) but no migrate/)
    expect(() => Events.synced({ name: 'v1.ItemAdded', schema, from: v1, migrate: (a) => a })).toThrow(
      /same name: give the new version a new name/,
    )
    expect(() => Events.clientOnly({ name: 'v2.X', schema, from: v1, migrate: (a) => a })).toThrow(
      /client-only but migrates from "v1\.ItemAdded", which is synced/,
    )
    // v1 keeping its own materializer
    expect(() =>
      makeSchema({
        events: { v1, v2 },
        state: State.SQLite.makeState({ tables: { items }, materializers: { 'v1.ItemAdded': () => {}, 'v2.ItemAdded': () => {} } }),
      }),
    ).toThrow(/"v1\.ItemAdded" has a materializer, but "v2\.ItemAdded" migrates from it/)
    const other = Events.synced({ name: 'v2.ItemCopied', schema, from: v1, migrate: (a) => a })
    expect(() =>
      makeSchema({
        events: { v2, other },
        state: State.SQLite.makeState({ tables: { items }, materializers: { 'v2.ItemAdded': () => {}, 'v2.ItemCopied': () => {} } }),
      }),
    ).toThrow(/both migrate from "v1\.ItemAdded"/)
  })
})
