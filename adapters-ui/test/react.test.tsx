import { StoreProvider, useClientDocument, useQuery, useStore, useSyncStatus } from '@cairn/react'
import { createStorePromise, makeInMemoryAdapter, queryDb, type Adapter, type Def, type DocumentUpdate, type Store } from '@cairn/core'
import { act, render } from '@testing-library/react'
import { Component, StrictMode, Suspense, useState, type ReactNode } from 'react'
import { renderToString } from 'react-dom/server'
import { describe, expect, it, vi } from 'vitest'
import { behaviourSuite, type Harness, type ViewSpec } from './behaviour.ts'
import { events, makeStore, schema, show, texts$ } from './fixtures.ts'

class Boundary extends Component<{ id: string; children: ReactNode }, { error: unknown }> {
  override state = { error: undefined as unknown }
  static getDerivedStateFromError(error: unknown) {
    return { error }
  }
  override render() {
    if (this.state.error === undefined) return this.props.children
    return <p data-testid={this.props.id}>error: {(this.state.error as Error).message}</p>
  }
}

const harness: Harness = {
  name: 'react',
  async mount(store, views) {
    const renders = views.map((): unknown[] => [])
    const setters: ((update: DocumentUpdate<any>) => void)[] = []
    let setDefs!: (update: (defs: (Def<unknown> | undefined)[]) => (Def<unknown> | undefined)[]) => void

    const QueryView = ({ i, def }: { i: number; def: Def<unknown> }) => {
      const value = useQuery(def)
      renders[i]!.push(value)
      return <p data-testid={`view-${i}`}>{show(value)}</p>
    }
    const DocumentView = ({ i, spec }: { i: number; spec: Extract<ViewSpec, { document: unknown }> }) => {
      const [value, set] = useClientDocument(spec.document)
      setters[i] = set
      renders[i]!.push(value)
      return <p data-testid={`view-${i}`}>{show(value)}</p>
    }
    const StatusView = ({ i }: { i: number }) => {
      const value = useSyncStatus()
      renders[i]!.push(value)
      return <p data-testid={`view-${i}`}>{show(value)}</p>
    }
    const Root = () => {
      const [defs, set] = useState(() => views.map((v) => ('query' in v ? v.query : undefined)))
      setDefs = set
      return views.map((v, i) => (
        <Boundary key={i} id={`view-${i}`}>
          {'query' in v ? <QueryView i={i} def={defs[i]!} /> : 'document' in v ? <DocumentView i={i} spec={v} /> : <StatusView i={i} />}
        </Boundary>
      ))
    }
    const result = render(
      <StoreProvider store={store}>
        <Root />
      </StoreProvider>,
      { onCaughtError: () => {} }, // the boundary shows the error; React need not log it too
    )
    return {
      renders: (i) => renders[i]!,
      text: (i) => result.getByTestId(`view-${i}`).textContent ?? '',
      setQuery: (i, def) => act(async () => setDefs((defs) => defs.map((d, j) => (j === i ? def : d)))),
      setDocument: (i, update) => act(async () => setters[i]!(update)),
      unmount: () => result.unmount(),
    }
  },
  async act(fn) {
    await act(async () => {
      await fn()
    })
  },
}

behaviourSuite(harness)

describe('react: StrictMode and SSR', () => {
  it('survives the StrictMode double mount: one instance while mounted, none after', async () => {
    const store = await makeStore()
    const Texts = () => <p data-testid="texts">{show(useQuery(texts$))}</p>
    const view = render(
      <StrictMode>
        <StoreProvider store={store}>
          <Texts />
        </StoreProvider>
      </StrictMode>,
    )
    await act(async () => store.commit(events.todoCreated({ id: 'a', text: 'one' })))
    expect(view.getByTestId('texts').textContent).toBe('one')
    expect(
      store
        .inspect()
        .filter((i) => i.label === 'texts')
        .map((i) => i.refs),
    ).toEqual([1])
    view.unmount()
    await Promise.resolve()
    expect(store.inspect().filter((i) => i.label === 'texts')).toEqual([])
    await store.shutdown()
  })

  it('renders the initial result on the server (getServerSnapshot)', async () => {
    const store = await makeStore()
    store.commit(events.todoCreated({ id: 'a', text: 'one' }))
    const Texts = () => <p>{show(useQuery(texts$))}</p>
    const html = renderToString(
      <StoreProvider store={store}>
        <Texts />
      </StoreProvider>,
    )
    expect(html).toBe('<p>one</p>')
    await store.shutdown()
  })
})

describe('react: useStore', () => {
  it('throws an actionable error without a provider', () => {
    const Orphan = () => <p>{show(useQuery(texts$))}</p>
    expect(() => render(<Orphan />)).toThrow(/wrap the component in <StoreProvider store=\{store\}>/)
  })

  it('creates a store from options, suspends until it is ready, and shuts it down after unmount', async () => {
    let created: Store<typeof schema> | undefined
    const options = { schema, adapter: makeInMemoryAdapter(), storeId: 'suspense' }
    const App = () => {
      const store = useStore(options)
      created = store
      return (
        <StoreProvider store={store}>
          <Count />
        </StoreProvider>
      )
    }
    const count$ = queryDb({ query: 'SELECT count(*) AS n FROM todos' }, { label: 'count' })
    const Count = () => <p data-testid="count">{show(useQuery(count$))}</p>
    const view = render(
      <Suspense fallback={<p data-testid="count">loading</p>}>
        <App />
      </Suspense>,
    )
    expect(view.getByTestId('count').textContent).toBe('loading')
    expect((await view.findByText('0', undefined, { timeout: 10_000 })).dataset.testid).toBe('count')
    view.unmount()
    await act(async () => {}) // the release runs a microtask after unmount
    await Promise.resolve()
    expect(created?.isShutdown).toBe(true)
  })

  it('shuts down a store whose Suspense boundary went away before anything mounted', async () => {
    const adapter = makeInMemoryAdapter()
    const options = { schema, adapter, storeId: 'abandoned' }
    const App = () => <p>{useStore(options).storeId}</p>
    const view = render(
      <Suspense fallback={<p>loading</p>}>
        <App />
      </Suspense>,
    )
    view.unmount() // while the store is still being created
    // the adapter opens a store only once at a time: a second open succeeds once the first is shut down
    await vi.waitFor(
      async () => {
        const again = await createStorePromise({ schema, adapter, storeId: 'abandoned' })
        await again.shutdown()
      },
      { timeout: 5_000, interval: 100 },
    )
  })

  it("reports a store that fails to shut down to the options' onError", async () => {
    const inner = makeInMemoryAdapter()
    const adapter: Adapter = {
      name: 'failing-close',
      async openLeader(o) {
        const port = await inner.openLeader(o)
        return {
          ...port,
          clientId: port.clientId,
          close: async () => {
            await port.close()
            throw new Error('the leader failed to close')
          },
        }
      },
    }
    const errors: unknown[] = []
    const options = { schema, adapter, storeId: 'failing-close', onError: (e: unknown) => errors.push(e) }
    const App = () => <p data-testid="id">{useStore(options).storeId}</p>
    const view = render(
      <Suspense fallback={<p>loading</p>}>
        <App />
      </Suspense>,
    )
    await view.findByTestId('id', undefined, { timeout: 10_000 })
    view.unmount()
    await vi.waitFor(() => expect(errors.map((e) => (e as Error).message)).toEqual(['the leader failed to close']))
  })
})
