import type { Def, DocumentUpdate } from '@cairn/core'
import { queryStore } from '@cairn/svelte'
import { render } from '@testing-library/svelte'
import { flushSync, tick } from 'svelte'
import { describe, expect, it } from 'vitest'
import { behaviourSuite, type Harness } from './behaviour.ts'
import { events, makeStore, short$, texts$ } from './fixtures.ts'
import Todos from './svelte/Todos.svelte'
import Views from './svelte/Views.svelte'

const harness: Harness = {
  name: 'svelte',
  async mount(store, views) {
    const renders = views.map((): unknown[] => [])
    const setters: ((update: DocumentUpdate<any>) => void)[] = []
    let defs = views.map((v) => ('query' in v ? v.query : undefined))
    const record = (i: number, value: unknown) => (renders[i]!.push(value), value)
    const result = render(Views, { store, views, defs, record, setters })
    flushSync()
    return {
      renders: (i) => renders[i]!,
      text: (i) => result.getByTestId(`view-${i}`).textContent ?? '',
      async setQuery(i, def: Def<unknown>) {
        defs = defs.map((d, j) => (j === i ? def : d))
        await result.rerender({ defs })
        flushSync()
      },
      async setDocument(i, update) {
        setters[i]!(update)
        flushSync()
      },
      unmount: () => result.unmount(),
    }
  },
  async act(fn) {
    await fn()
    await tick()
    flushSync()
  },
}

behaviourSuite(harness)

describe('svelte: queryStore with $store', () => {
  it('subscribes through $todos while mounted and releases the query on unmount', async () => {
    const store = await makeStore()
    const seen: unknown[] = []
    const view = render(Todos, { store, def: texts$, record: (v: unknown) => seen.push(v) })
    flushSync()
    store.commit(events.noteAdded({ id: 'n', body: 'unrelated' }))
    store.commit(events.todoCreated({ id: 'a', text: 'one' }))
    flushSync()
    expect([view.container.textContent?.trim(), seen]).toEqual(['one', [[], [{ text: 'one' }]]])
    view.unmount()
    await Promise.resolve()
    expect(store.inspect().filter((i) => i.label === 'texts')).toEqual([])
    await store.shutdown()
  })

  it('throws a query that fails on mount from $todos', async () => {
    const store = await makeStore()
    store.commit(events.todoCreated({ id: 'a', text: 'much too long' }))
    expect(() => render(Todos, { store, def: short$, record: () => {} })).toThrow(/Query "short" failed/)
    await store.shutdown()
  })

  it('is a plain Svelte store outside components', async () => {
    const store = await makeStore()
    const seen: unknown[] = []
    const stop = queryStore(store, texts$).subscribe((rows) => seen.push(rows))
    store.commit(events.todoCreated({ id: 'a', text: 'one' }))
    stop()
    expect(seen).toEqual([[], [{ text: 'one' }]])
    await store.shutdown()
  })
})
