import { type ClientDocumentDef, type Def, type DocumentUpdate, type Store } from '@cairn/core'
import { makeInMemorySyncServer } from '@cairn/core/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { events, makeStore, notes$, schema, short$, tables, texts$ } from './fixtures.ts'

/** What a harness view uses: a query, a client document, or the sync status. */
export type ViewSpec =
  { readonly query: Def<unknown> } | { readonly document: ClientDocumentDef<string, any> } | { readonly syncStatus: true }

export interface Mounted {
  /** The value a view rendered, once per render of that view. */
  renders(view: number): unknown[]
  /** The view's text: `show(value)`, or `error: <message>` from the framework's error path. */
  text(view: number): string
  /** Switches a query view to another definition, the framework's way (prop, ref, accessor). */
  setQuery(view: number, def: Def<unknown>): Promise<void>
  /** Calls the setter a document view got from its hook. */
  setDocument(view: number, update: DocumentUpdate<any>): Promise<void>
  unmount(): void
}

/**
 * The render harness of one framework: mounts one component per view under one store (provider
 * or context), each wrapped in the framework's error boundary.
 */
export interface Harness {
  readonly name: string
  mount(store: Store<any>, views: readonly ViewSpec[]): Promise<Mounted>
  /** Runs `fn` and lets the framework apply the updates it caused (act, nextTick, flushSync). */
  act(fn: () => unknown): Promise<void>
}

/** The behaviour every UI adapter must show, written once. */
export function behaviourSuite(h: Harness): void {
  let store: Store<typeof schema>
  let mounted: Mounted | undefined
  const mount = async (views: readonly ViewSpec[]) => {
    const m = await h.mount(store, views)
    let unmounted = false
    // a test may unmount itself; afterEach unmounts the rest
    const unmount = () => void (unmounted || ((unmounted = true), m.unmount()))
    return (mounted = { ...m, unmount })
  }
  const commit = (...e: Parameters<typeof store.commit>) => h.act(() => store.commit(...e))
  const instances = (label: string) => store.inspect().filter((i) => i.label === label)

  beforeEach(async () => {
    store = await makeStore()
    store.commit(events.todoCreated({ id: 'a', text: 'one' }), events.todoCreated({ id: 'b', text: 'two' }))
  })
  afterEach(async () => {
    mounted?.unmount()
    mounted = undefined
    await store.shutdown()
  })

  describe(`${h.name}: useQuery`, () => {
    it('shows the initial rows on mount, in one render', async () => {
      const view = await mount([{ query: texts$ }])
      expect([view.text(0), view.renders(0).length]).toEqual(['one,two', 1])
    })

    it('updates the view on a commit that changes the result', async () => {
      const view = await mount([{ query: texts$ }])
      await commit(events.todoCreated({ id: 'c', text: 'three' }))
      expect([view.text(0), view.renders(0).length]).toEqual(['one,two,three', 2])
    })

    it('does not render on a commit to another table, while a view of that table does', async () => {
      const view = await mount([{ query: texts$ }, { query: notes$ }])
      const runs = store.runsOf(texts$)
      await commit(events.noteAdded({ id: 'n', body: 'note' }))
      expect([view.renders(0).length, store.runsOf(texts$) - runs]).toEqual([1, 0])
      expect([view.text(1), view.renders(1).length]).toEqual(['note', 2])
    })

    it('does not render when a re-run returns an equal result', async () => {
      const view = await mount([{ query: texts$ }])
      const runs = store.runsOf(texts$)
      await commit(events.todoCompleted({ id: 'a' }))
      expect([view.renders(0).length, store.runsOf(texts$) - runs]).toEqual([1, 1]) // re-ran, no render
    })

    it('switches to another query and follows only that one', async () => {
      const view = await mount([{ query: texts$ }])
      await view.setQuery(0, notes$)
      expect([view.text(0), instances('texts')]).toEqual(['', []]) // the old query was released
      const renders = view.renders(0).length
      await commit(events.todoCreated({ id: 'c', text: 'three' }))
      expect(view.renders(0).length).toBe(renders)
      await commit(events.noteAdded({ id: 'n', body: 'note' }))
      expect([view.text(0), view.renders(0).length]).toEqual(['note', renders + 1])
    })

    it('releases the query on unmount and stops updating', async () => {
      const view = await mount([{ query: texts$ }])
      expect(instances('texts')).toHaveLength(1)
      view.unmount()
      await Promise.resolve() // instances read without a subscription are swept after the task
      expect(instances('texts')).toEqual([])
      await commit(events.todoCreated({ id: 'c', text: 'three' }))
      expect(view.renders(0)).toHaveLength(1)
    })

    it('shares one query instance between components, and one result reference', async () => {
      const view = await mount([{ query: texts$ }, { query: texts$ }])
      expect(instances('texts').map((i) => i.refs)).toEqual([1])
      const runs = store.runsOf(texts$)
      await commit(events.todoCreated({ id: 'c', text: 'three' }))
      expect([view.text(0), view.text(1), store.runsOf(texts$) - runs]).toEqual(['one,two,three', 'one,two,three', 1])
      expect(view.renders(0).at(-1)).toBe(view.renders(1).at(-1))
    })

    it('shows a query error through the error path on mount, with the query named', async () => {
      store.commit(events.todoRenamed({ id: 'a', text: 'much too long' }))
      const view = await mount([{ query: short$ }])
      expect(view.text(0)).toMatch(/^error: Query "short" failed: .*text/)
    })

    it('shows a query error through the error path when a commit makes the query fail', async () => {
      const view = await mount([{ query: short$ }])
      expect(view.text(0)).toBe('one,two')
      await commit(events.todoRenamed({ id: 'a', text: 'much too long' }))
      expect(view.text(0)).toMatch(/^error: Query "short" failed/)
    })
  })

  describe(`${h.name}: useClientDocument`, () => {
    it('reads the default, then merges fields and applies updaters', async () => {
      const view = await mount([{ document: tables.ui }])
      expect(view.text(0)).toBe('{"filter":"all","search":""}')
      await view.setDocument(0, { search: 'milk' })
      expect(view.text(0)).toBe('{"filter":"all","search":"milk"}')
      await view.setDocument(0, (ui: { search: string }) => ({ filter: ui.search === 'milk' ? 'done' : 'all' }))
      expect([view.text(0), view.renders(0).length]).toEqual(['{"filter":"done","search":"milk"}', 3])
      expect(store.query(tables.ui.get())).toEqual({ filter: 'done', search: 'milk' })
    })
  })

  describe(`${h.name}: useSyncStatus`, () => {
    it('follows pending events and the connection', async () => {
      const server = makeInMemorySyncServer({ seed: 1 })
      const synced = await makeStore({ storeId: 'synced', sync: { backend: server.backend() } })
      const view = await h.mount(synced, [{ syncStatus: true }])
      await h.act(() => server.settled([synced]))
      expect(JSON.parse(view.text(0))).toMatchObject({ pending: 0, connected: true })
      await h.act(() => synced.commit(events.todoCreated({ id: 'x', text: 'x' })))
      expect(JSON.parse(view.text(0))).toMatchObject({ pending: 1, localHead: 'e1' })
      await h.act(() => server.settled([synced]))
      expect(JSON.parse(view.text(0))).toMatchObject({ pending: 0, serverHead: 'e1', connected: true })
      view.unmount()
      await synced.shutdown()
    })
  })
}
