/** @jsxImportSource solid-js */
// Server rendering, compiled by Solid for the server (this file runs in the `ssr` project: Node, no DOM).
import { StoreProvider, useQuery } from '@cairn/solid'
import { renderToString } from 'solid-js/web'
import { describe, expect, it } from 'vitest'
import { events, makeStore, show, texts$ } from './fixtures.ts'

describe('solid: SSR', () => {
  it('renders the current result on the server and leaves no listener behind', async () => {
    const store = await makeStore()
    store.commit(events.todoCreated({ id: 'a', text: 'one' }))
    const Texts = () => {
      const texts = useQuery(texts$)
      return <p>{show(texts())}</p>
    }
    for (let i = 0; i < 3; i++) {
      const html = renderToString(() => (
        <StoreProvider store={store}>
          <Texts />
        </StoreProvider>
      ))
      expect(html).toContain('>one</p>')
    }
    await new Promise((r) => setTimeout(r, 0)) // Solid disposes a server render's root (and its listener) a macrotask later
    expect(store.inspect().filter((i) => i.label === 'texts')).toEqual([])
    await store.shutdown()
  })
})
