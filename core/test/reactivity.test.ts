import { computed, createStorePromise, Events, makeInMemoryAdapter, makeSchema, queryDb, signal, State } from '@cairn/core'
import { z } from 'zod'
import { describe, expect, it, vi } from 'vitest'
import { SqliteDb } from '../src/sqlite/db.ts'
import { events, makeStore, tables } from './fixtures.ts'

const flushMicrotasks = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

describe('graph updates', () => {
  it('re-runs only the queries on the tables a commit wrote', async () => {
    const store = await makeStore()
    const todos$ = queryDb(tables.todos.orderBy('id'), { label: 'todos' })
    const notes$ = queryDb(tables.notes.orderBy('id'), { label: 'notes' })
    const calls = { todos: 0, notes: 0 }
    store.subscribe(todos$, () => calls.todos++)
    store.subscribe(notes$, () => calls.notes++)
    expect(calls).toEqual({ todos: 1, notes: 1 }) // 1. called at once with the current rows
    store.commit(events.todoCreated({ id: 'a', text: '' }))
    expect(calls).toEqual({ todos: 2, notes: 1 }) // 2. notes untouched: not re-run, not called
    expect(store.runsOf(notes$)).toBe(1)
    store.commit(events.noteAdded({ id: 'n', body: '' }))
    expect(calls).toEqual({ todos: 2, notes: 2 })
    expect(store.runsOf(todos$)).toBe(2)
    await store.shutdown()
  })

  it('bumps every table of a commit that writes several', async () => {
    const store = await makeStore()
    const todos$ = queryDb(tables.todos.count())
    const notes$ = queryDb(tables.notes.count())
    store.subscribe(todos$, () => {})
    store.subscribe(notes$, () => {})
    store.commit(events.todoCreated({ id: 'a', text: '' }), events.noteAdded({ id: 'n', body: '' }))
    expect([store.query(todos$), store.query(notes$)]).toEqual([1, 1])
    expect([store.runsOf(todos$), store.runsOf(notes$)]).toEqual([2, 2])
    await store.shutdown()
  })

  it('does not notify when a re-run returns an equal result', async () => {
    const store = await makeStore()
    const open$ = queryDb(tables.todos.where({ completed: false }).count())
    const seen: number[] = []
    store.subscribe(open$, (n) => seen.push(n))
    store.commit(events.todoCreated({ id: 'a', text: '' }))
    store.commit(events.todoRenamed({ id: 'a', text: 'renamed' })) // todos written, count unchanged
    expect(store.runsOf(open$)).toBe(3)
    expect(seen).toEqual([0, 1])
    await store.shutdown()
  })

  it('keeps the same result reference while the data is equal', async () => {
    const store = await makeStore()
    const all$ = queryDb(tables.todos.where({ completed: true }))
    store.commit(events.todoCreated({ id: 'a', text: '' }))
    const first = store.query(all$)
    store.commit(events.todoRenamed({ id: 'a', text: 'x' }))
    expect(store.query(all$)).toBe(first)
    await store.shutdown()
  })

  it('updates queries when a materializer empties a whole table (DELETE without WHERE)', async () => {
    const todoCreated = Events.synced({ name: 'T', schema: z.object({ id: z.string() }) })
    const allCleared = Events.synced({ name: 'Cleared', schema: z.object({}) })
    const items = State.SQLite.table({ name: 'items', columns: { id: State.SQLite.text({ primaryKey: true }) } })
    const schema = makeSchema({
      events: { todoCreated, allCleared },
      state: State.SQLite.makeState({
        tables: { items },
        materializers: State.SQLite.materializers(
          { todoCreated, allCleared },
          { T: ({ id }) => items.insert({ id }), Cleared: () => items.delete() },
        ),
      }),
    })
    const store = await createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: 'clear' })
    const seen: number[] = []
    store.subscribe(queryDb(items.count()), (n) => seen.push(n))
    store.commit(todoCreated({ id: 'a' }), todoCreated({ id: 'b' }))
    store.commit(allCleared({}))
    expect(seen).toEqual([0, 2, 0])
    await store.shutdown()
  })

  it('does not bump a table when a write matched no rows', async () => {
    const store = await makeStore()
    const all$ = queryDb(tables.todos)
    store.subscribe(all$, () => {})
    store.commit(events.todoCompleted({ id: 'missing' }))
    expect(store.runsOf(all$)).toBe(1)
    await store.shutdown()
  })

  it('tracks the tables of raw SQL joins and subqueries', async () => {
    const store = await makeStore()
    const joined$ = queryDb({ query: 'SELECT t.id, n.body FROM todos t JOIN notes n ON n.id = t.id' })
    const sub$ = queryDb({ query: 'SELECT count(*) AS n FROM todos WHERE id IN (SELECT id FROM notes)' })
    const cte$ = queryDb({ query: 'WITH s AS (SELECT * FROM stats) SELECT count(*) AS n FROM s' })
    for (const def of [joined$, sub$, cte$]) store.subscribe(def, () => {})
    store.commit(events.todoCreated({ id: 'a', text: '' }))
    store.commit(events.noteAdded({ id: 'a', body: 'b' }))
    expect([store.runsOf(joined$), store.runsOf(sub$), store.runsOf(cte$)]).toEqual([3, 3, 1])
    expect(store.query(joined$)).toEqual([{ id: 'a', body: 'b' }])
    expect(
      store
        .inspect()
        .find((i) => i.label.startsWith('SELECT t.id'))
        ?.tables.slice()
        .sort(),
    ).toEqual(['notes', 'todos'])
    await store.shutdown()
  })

  it('runs a diamond once per commit', async () => {
    const store = await makeStore()
    const all$ = queryDb(tables.todos)
    const done$ = queryDb(tables.todos.where({ completed: true }))
    let runs = 0
    const summary$ = computed((get) => {
      runs++
      return `${get(done$).length}/${get(all$).length}`
    })
    const seen: string[] = []
    store.subscribe(summary$, (s) => seen.push(s))
    store.commit(events.todoCreated({ id: 'a', text: '' }), events.todoCreated({ id: 'b', text: '' }))
    store.commit(events.todoCompleted({ id: 'a' }))
    expect(seen).toEqual(['0/0', '0/2', '1/2'])
    expect(runs).toBe(3)
    await store.shutdown()
  })

  it('re-derives a dynamic query and its tables when a signal changes', async () => {
    const store = await makeStore()
    const source$ = signal<'todos' | 'notes'>('todos', { label: 'source' })
    const ids$ = queryDb((get) => (get(source$) === 'todos' ? tables.todos.select('id') : tables.notes.select('id')), { label: 'ids' })
    const seen: unknown[] = []
    store.subscribe(ids$, (rows) => seen.push(rows))
    store.commit(events.todoCreated({ id: 't', text: '' }))
    store.setSignal(source$, 'notes')
    store.commit(events.todoCreated({ id: 'u', text: '' })) // no longer a dependency
    store.commit(events.noteAdded({ id: 'n', body: '' }))
    expect(seen).toEqual([[], [{ id: 't' }], [], [{ id: 'n' }]])
    expect(store.inspect().find((i) => i.label === 'ids')?.tables).toEqual(['notes'])
    await store.shutdown()
  })

  it('tells devtools which definitions each instance reads', async () => {
    const store = await makeStore()
    const source$ = signal<'todos' | 'notes'>('todos', { label: 'source' })
    const ids$ = queryDb((get) => (get(source$) === 'todos' ? tables.todos.select('id') : tables.notes.select('id')), { label: 'ids' })
    const all$ = queryDb(tables.todos, { label: 'all' })
    const summary$ = computed((get) => `${get(ids$).length}/${get(all$).length}`, { label: 'summary' })
    store.subscribe(summary$, () => {})
    const deps = Object.fromEntries(store.inspect().map((i) => [i.label, i.dependencies]))
    expect(deps).toEqual({ summary: ['ids', 'all'], ids: ['source'], all: [], source: [] })
    await store.shutdown()
  })

  it('answers a repeated read on unchanged tables from the graph', async () => {
    const store = await makeStore()
    let runs = 0
    const open$ = queryDb(tables.todos.where({ completed: false }), { map: (rows) => (runs++, rows) })
    const other$ = queryDb(tables.notes.count())
    store.commit(events.todoCreated({ id: 'a', text: '' }))
    const first = store.query(open$)
    for (let i = 0; i < 100; i++) expect(store.query(open$)).toBe(first)
    expect(runs).toBe(1)
    // in later tasks too, while its tables are unchanged, and without a graph node
    await flushMicrotasks()
    store.commit(events.noteAdded({ id: 'n', body: '' }))
    store.query(other$)
    expect([store.query(open$), runs, store.inspect()]).toEqual([first, 1, []])
    store.commit(events.todoCreated({ id: 'b', text: '' }))
    expect(store.query(open$).map((t) => t.id)).toEqual(['a', 'b'])
    expect(runs).toBe(2)
    await store.shutdown()
  })
})

describe('instances', () => {
  it('shares one instance per definition and store', async () => {
    const store = await makeStore()
    const all$ = queryDb(tables.todos)
    const a: number[] = []
    const b: number[] = []
    store.subscribe(all$, (rows) => a.push(rows.length))
    store.subscribe(all$, (rows) => b.push(rows.length))
    store.commit(events.todoCreated({ id: 'a', text: '' }))
    expect(store.runsOf(all$)).toBe(2)
    expect(store.inspect().filter((i) => i.kind === 'query')).toHaveLength(1)
    expect([a, b]).toEqual([
      [0, 1],
      [0, 1],
    ])
    await store.shutdown()
  })

  it('releases instances when the last subscriber leaves, and after one-off reads', async () => {
    const store = await makeStore()
    const all$ = queryDb(tables.todos)
    const count$ = computed((get) => get(all$).length)
    const stop1 = store.subscribe(count$, () => {})
    const stop2 = store.subscribe(count$, () => {})
    expect(
      store
        .inspect()
        .map((i) => i.refs)
        .sort(),
    ).toEqual([1, 2])
    stop1()
    expect(store.inspect()).toHaveLength(2)
    stop2()
    stop2() // idempotent
    expect(store.inspect()).toEqual([])
    // unsubscribed reads of a query make no instance
    const notes$ = queryDb(tables.notes)
    const first = store.query(notes$)
    expect(store.query(notes$)).toBe(first)
    expect(store.inspect()).toEqual([])
    // a dynamic query read twice in one task gets an instance (keeping the first result), released after the task
    const dynamic$ = queryDb(() => tables.notes)
    const firstDynamic = store.query(dynamic$)
    expect(store.inspect()).toEqual([])
    expect(store.query(dynamic$)).toBe(firstDynamic)
    store.query(dynamic$)
    expect(store.inspect().map((i) => i.runs)).toEqual([1])
    await flushMicrotasks()
    expect(store.inspect()).toEqual([])
    await store.shutdown()
  })

  it('stops calling a listener after unsubscribe', async () => {
    const store = await makeStore()
    const seen: number[] = []
    const stop = store.subscribe(queryDb(tables.todos.count()), (n) => seen.push(n))
    store.commit(events.todoCreated({ id: 'a', text: '' }))
    stop()
    store.commit(events.todoCreated({ id: 'b', text: '' }))
    expect(seen).toEqual([0, 1])
    await store.shutdown()
  })

  it('uses one definition in two stores independently', async () => {
    const s1 = await makeStore({ storeId: 'one' })
    const s2 = await makeStore({ storeId: 'two' })
    const count$ = queryDb(tables.todos.count())
    s1.commit(events.todoCreated({ id: 'a', text: '' }))
    expect([s1.query(count$), s2.query(count$)]).toEqual([1, 0])
    await Promise.all([s1.shutdown(), s2.shutdown()])
  })
})

describe('tables read by a query', () => {
  it('are looked up once per SQL text, and only the recently used texts are kept (IN-lists of any length)', async () => {
    const store = await makeStore()
    const tablesRead = vi.spyOn(SqliteDb.prototype, 'tablesRead')
    try {
      // an IN-list of each length is a new SQL text; so is a literal in the text
      const text = (n: number) =>
        `SELECT * FROM todos WHERE id IN (${Array(n % 10)
          .fill("'x'")
          .concat(`'${n}'`)
          .join(', ')})`
      const byIds = (n: number) => queryDb({ query: text(n) })
      const asked = (n: number) => tablesRead.mock.calls.filter(([sql]) => sql === text(n)).length
      store.query(byIds(1))
      store.query(byIds(1)) // a new definition of the same SQL: not looked up again
      expect(asked(1)).toBe(1)
      for (let n = 3; n <= 1_000; n++) {
        store.query(byIds(n))
        if (n % 100 === 0) store.query(byIds(2)) // in use: kept
      }
      store.query(byIds(2))
      expect(asked(2)).toBe(1)
      store.query(byIds(1)) // unused since: looked up again
      expect(asked(1)).toBe(2)
    } finally {
      tablesRead.mockRestore()
    }
    await store.shutdown()
  })
})

describe('store.subscribe errors', () => {
  it('keeps other listeners and the commit going when a listener throws', async () => {
    const errors: unknown[] = []
    const store = await makeStore({ onError: (e) => errors.push(e) })
    const count$ = queryDb(tables.todos.count())
    const seen: number[] = []
    store.subscribe(count$, (n) => {
      if (n > 0) throw new Error('listener failed')
    })
    store.subscribe(count$, (n) => seen.push(n))
    expect(() => store.commit(events.todoCreated({ id: 'a', text: '' }))).not.toThrow()
    expect(seen).toEqual([0, 1])
    expect(errors).toHaveLength(1)
    expect((errors[0] as Error).message).toBe('listener failed')
    await store.shutdown()
  })

  it('routes query errors to onError and recovers when the query succeeds again', async () => {
    const store = await makeStore()
    const table$ = signal('todos')
    const q$ = queryDb((get) => ({ query: `SELECT count(*) AS n FROM ${get(table$)}` }), { label: 'by table' })
    const seen: unknown[] = []
    const errors: string[] = []
    store.subscribe(q$, (rows) => seen.push(rows), { onError: (e) => errors.push((e as Error).message) })
    store.setSignal(table$, 'missing_table')
    store.setSignal(table$, 'notes')
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/by table.*no such table: missing_table/)
    // after an error the recovered value is delivered again, even when equal to the last one
    expect(seen).toEqual([[{ n: 0 }], [{ n: 0 }]])
    await store.shutdown()
  })
})

describe('computed', () => {
  it('takes a list of definitions and gets their values in order, re-run only when one of them changes', async () => {
    const store = await makeStore()
    store.commit(events.todoCreated({ id: 'a', text: 'A' }), events.todoCreated({ id: 'b', text: 'B' }))
    const all$ = queryDb(tables.todos.orderBy('id'), { label: 'all' })
    const selectedId$ = signal<string | null>(null, { label: 'selectedId' })
    let runs = 0
    const selected$ = computed([all$, selectedId$], ([all, id]) => {
      runs++
      return all.find((t) => t.id === id)?.text ?? null
    })
    const seen: unknown[] = []
    store.subscribe(selected$, (t) => seen.push(t))
    store.setSignal(selectedId$, 'b')
    store.commit(events.todoRenamed({ id: 'b', text: 'B2' }))
    store.commit(events.noteAdded({ id: 'n', body: '' })) // a table it does not read
    expect(seen).toEqual([null, 'B', 'B2'])
    expect(runs).toBe(3) // not re-run by the note
    expect(store.inspect().find((i) => i.label === 'computed(all, selectedId)')).toBeDefined()
    await store.shutdown()
  })

  it('says what is wrong with its arguments, where they enter', () => {
    const all$ = queryDb(tables.todos.orderBy('id'))
    expect(() => computed([all$, 42 as never], ([all]) => all)).toThrow(
      expect.objectContaining({ code: 'InvalidComputed', message: expect.stringMatching(/item 1 of its list is not a definition/) }),
    )
    expect(() => computed([all$], undefined as never)).toThrow(/second argument must be the function of their values/)
    expect(() => computed('all' as never)).toThrow(/first argument must be a function of `get` or a list of definitions/)
  })
})

describe('store.setSignal', () => {
  it('updates computeds that read the signal', async () => {
    const store = await makeStore()
    store.commit(events.todoCreated({ id: 'a', text: 'A' }), events.todoCreated({ id: 'b', text: 'B' }))
    const all$ = queryDb(tables.todos.orderBy('id'))
    const selectedId$ = signal<string | null>(null, { label: 'selectedId' })
    const selected$ = computed((get) => get(all$).find((t) => t.id === get(selectedId$)) ?? null)
    const seen: unknown[] = []
    store.subscribe(selected$, (t) => seen.push(t?.text ?? null))
    store.setSignal(selectedId$, 'b')
    store.commit(events.todoRenamed({ id: 'b', text: 'B2' }))
    expect(seen).toEqual([null, 'B', 'B2'])
    expect(() => store.setSignal(all$ as never, 1)).toThrow(/needs a signal definition/)
    await store.shutdown()
  })
})
