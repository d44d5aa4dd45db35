/** @jsxImportSource solid-js */
import type { Def, DocumentUpdate } from '@cairn/core'
import { StoreProvider, useClientDocument, useQuery, useStore, useSyncStatus } from '@cairn/solid'
import { render } from '@solidjs/testing-library'
import { createSignal, ErrorBoundary, For, Index } from 'solid-js'
import { describe, expect, it } from 'vitest'
import { behaviourSuite, type Harness, type ViewSpec } from './behaviour.ts'
import { events, makeStore, show, texts$ } from './fixtures.ts'

const harness: Harness = {
  name: 'solid',
  async mount(store, views) {
    const renders = views.map((): unknown[] => [])
    const setters: ((update: DocumentUpdate<any>) => void)[] = []
    const [defs, setDefs] = createSignal(views.map((v) => ('query' in v ? v.query : undefined)))
    const shown = (i: number, value: unknown) => (renders[i]!.push(value), show(value))

    const QueryView = (props: { i: number }) => {
      const value = useQuery(() => defs()[props.i]!)
      return <p data-testid={`view-${props.i}`}>{shown(props.i, value())}</p>
    }
    const DocumentView = (props: { i: number; spec: Extract<ViewSpec, { document: unknown }> }) => {
      const [value, set] = useClientDocument(props.spec.document)
      setters[props.i] = set
      return <p data-testid={`view-${props.i}`}>{shown(props.i, value())}</p>
    }
    const StatusView = (props: { i: number }) => {
      const value = useSyncStatus()
      return <p data-testid={`view-${props.i}`}>{shown(props.i, value())}</p>
    }
    const result = render(() => (
      <StoreProvider store={store}>
        <Index each={views}>
          {(v, i) => (
            <ErrorBoundary fallback={(e: Error) => <p data-testid={`view-${i}`}>error: {e.message}</p>}>
              {'query' in v() ? <QueryView i={i} /> : 'document' in v() ? <DocumentView i={i} spec={v() as never} /> : <StatusView i={i} />}
            </ErrorBoundary>
          )}
        </Index>
      </StoreProvider>
    ))
    return {
      renders: (i) => renders[i]!,
      text: (i) => result.getByTestId(`view-${i}`).textContent ?? '',
      async setQuery(i, def: Def<unknown>) {
        setDefs((defs) => defs.map((d, j) => (j === i ? def : d)))
      },
      async setDocument(i, update) {
        setters[i]!(update)
      },
      unmount: () => result.unmount(),
    }
  },
  async act(fn) {
    await fn() // Solid updates synchronously
  },
}

behaviourSuite(harness)

describe('solid: StoreProvider', () => {
  it('throws an actionable error without a provider', () => {
    const Orphan = () => <p>{show(useQuery(texts$)())}</p>
    expect(() => render(() => <Orphan />)).toThrow(/wrap the component in <StoreProvider store=\{store\}>/)
  })

  it('gives the provided store to useStore, and lists rows with <For>', async () => {
    const store = await makeStore()
    store.commit(events.todoCreated({ id: 'a', text: 'one' }), events.todoCreated({ id: 'b', text: 'two' }))
    const List = () => {
      const todos = useQuery(texts$)
      return <ul>{useStore() === store && <For each={todos()}>{(t) => <li>{t.text}</li>}</For>}</ul>
    }
    const view = render(() => (
      <StoreProvider store={store}>
        <List />
      </StoreProvider>
    ))
    expect(view.container.querySelectorAll('li').length).toBe(2)
    view.unmount()
    await store.shutdown()
  })
})
