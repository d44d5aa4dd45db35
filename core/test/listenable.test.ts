import { documentQuery, listenable, queryDb, QueryError, setDocument, signal } from '@cairn/core'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { events, makeStore, tables } from './fixtures.ts'

const todos$ = queryDb(tables.todos.orderBy('id'), { label: 'todos' })

describe('listenable', () => {
  it('is one object per store and definition', async () => {
    const store = await makeStore()
    const other = await makeStore({ storeId: 'other' })
    expect(listenable(store, todos$)).toBe(listenable(store, todos$))
    expect(listenable(store, todos$)).not.toBe(listenable(other, todos$))
    await store.shutdown()
    await other.shutdown()
  })

  it('calls listeners only when the result changed, and get() keeps the reference meanwhile', async () => {
    const store = await makeStore()
    const todos = listenable(store, todos$)
    const seen: string[] = []
    const stop = todos.listen(() =>
      seen.push(
        todos
          .get()
          .map((t) => t.text)
          .join(','),
      ),
    )
    const first = todos.get()
    store.commit(events.noteAdded({ id: 'n', body: 'another table' }))
    store.commit(events.todoCreated({ id: 'a', text: 'one' }))
    const afterInsert = todos.get()
    store.commit(events.todoRenamed({ id: 'a', text: 'one' })) // re-runs, equal result
    expect(todos.get()).toBe(afterInsert)
    store.commit(events.todoRenamed({ id: 'a', text: 'uno' }))
    expect(seen).toEqual([
      'one', // 1. inserted (the note commit called nobody)
      'uno', // 2. renamed (the equal rename called nobody)
    ])
    expect(first).toEqual([])
    stop()
    await store.shutdown()
  })

  it('starts the query on the first listener and releases it after the last', async () => {
    const store = await makeStore()
    const todos = listenable(store, todos$)
    const refs = () => store.inspect().find((i) => i.label === 'todos')?.refs ?? 0
    const stopA = todos.listen(() => {})
    const stopB = todos.listen(() => {})
    expect(refs()).toBe(1)
    stopA()
    stopA() // unsubscribing twice is harmless
    expect(refs()).toBe(1)
    stopB()
    expect(refs()).toBe(0)
    await store.shutdown()
  })

  it('keeps the reference across a stop and restart while the result is equal', async () => {
    const store = await makeStore()
    store.commit(events.todoCreated({ id: 'a', text: 'one' }))
    const todos = listenable(store, todos$)
    const before = todos.get()
    todos.listen(() => {})()
    await Promise.resolve() // the unsubscribed instance is swept
    const stop = todos.listen(() => {})
    expect(todos.get()).toBe(before)
    stop()
    await store.shutdown()
  })

  it('tells listeners about a commit that happened between a read and the first listener', async () => {
    const store = await makeStore()
    const todos = listenable(store, todos$)
    expect(todos.get()).toEqual([])
    store.commit(events.todoCreated({ id: 'a', text: 'one' }))
    let calls = 0
    const stop = todos.listen(() => calls++)
    expect([calls, todos.get().length]).toEqual([1, 1])
    stop()
    await store.shutdown()
  })

  it('throws the query error from get() and calls listeners when a query starts or stops failing', async () => {
    const store = await makeStore()
    const short$ = queryDb({ query: 'SELECT text FROM todos', schema: z.array(z.object({ text: z.string().max(5) })) }, { label: 'short' })
    const short = listenable(store, short$)
    let calls = 0
    const stop = short.listen(() => calls++)
    store.commit(events.todoCreated({ id: 'a', text: 'far too long' }))
    expect(calls).toBe(1)
    expect(() => short.get()).toThrow(QueryError)
    expect(() => short.get()).toThrow(/Query "short" failed/)
    store.commit(events.todoRenamed({ id: 'a', text: 'ok' }))
    expect([calls, short.get()]).toEqual([2, [{ text: 'ok' }]])
    stop()
    await store.shutdown()
  })

  it('runs every listener even when one throws, then rethrows to the store', async () => {
    const errors: unknown[] = []
    const store = await makeStore({ onError: (e) => errors.push(e) })
    const todos = listenable(store, todos$)
    let reached = false
    todos.listen(() => {
      throw new Error('listener failed')
    })
    todos.listen(() => (reached = true))
    store.commit(events.todoCreated({ id: 'a', text: 'one' }))
    expect(reached).toBe(true)
    expect(errors).toEqual([new Error('listener failed')])
    await store.shutdown()
  })

  it('follows the Svelte store contract with subscribe: called now, then on each change', async () => {
    const store = await makeStore()
    const selected$ = signal<string>('none')
    const selected = listenable(store, selected$)
    const seen: string[] = []
    const stop = selected.subscribe((v) => seen.push(v))
    store.setSignal(selected$, 'a')
    store.setSignal(selected$, 'a')
    stop()
    store.setSignal(selected$, 'b')
    expect(seen).toEqual(['none', 'a'])
    await store.shutdown()
  })
})

describe('documentQuery', () => {
  it('is one definition per document and id', () => {
    expect(documentQuery(tables.ui)).toBe(documentQuery(tables.ui, 'default'))
    expect(documentQuery(tables.ui, 'other')).not.toBe(documentQuery(tables.ui))
  })

  it('keeps the definitions of the recently used ids only: many ids do not grow it forever', () => {
    const first = documentQuery(tables.ui, 'first')
    const recent = documentQuery(tables.ui, 'recent')
    for (let i = 0; i < 5_000; i++) {
      documentQuery(tables.ui, `id${i}`)
      if (i % 100 === 0) expect(documentQuery(tables.ui, 'recent')).toBe(recent) // in use: kept
    }
    expect(documentQuery(tables.ui, 'recent')).toBe(recent)
    expect(documentQuery(tables.ui, 'first')).not.toBe(first) // unused since: made anew
  })
})

describe('setDocument', () => {
  it('merges fields, or what an updater returns from the current value', async () => {
    const store = await makeStore()
    setDocument(store, tables.ui, { search: 'milk' })
    setDocument(store, tables.ui, (ui) => ({ filter: ui.search === 'milk' ? ('done' as const) : ('open' as const) }))
    expect(store.query(documentQuery(tables.ui))).toEqual({ filter: 'done', search: 'milk' })
    await store.shutdown()
  })
})
