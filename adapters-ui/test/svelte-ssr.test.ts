// Server rendering, compiled by Svelte for the server (this file runs in the `ssr` project: Node, no DOM).
import { storeContext } from '@cairn/svelte'
import { render } from 'svelte/server'
import { describe, expect, it } from 'vitest'
import { events, makeStore } from './fixtures.ts'
import Texts from './ssr/Texts.svelte'

describe('svelte: SSR', () => {
  it('renders the current result on the server and leaves no listener behind', async () => {
    const store = await makeStore()
    store.commit(events.todoCreated({ id: 'a', text: 'one' }))
    for (let i = 0; i < 3; i++) expect(render(Texts, { context: storeContext(store) }).body).toContain('<p>one|one</p>')
    expect(store.inspect().filter((i) => i.label === 'texts')).toEqual([])
    await store.shutdown()
  })
})
