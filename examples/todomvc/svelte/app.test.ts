import { createStorePromise, makeInMemoryAdapter } from '@cairn/core'
import { storeContext } from '@cairn/svelte'
import { fireEvent, render } from '@testing-library/svelte'
import { it } from 'vitest'
import { todoScenario } from '../app-scenario.ts'
import { schema } from '../schema.ts'
import App from './App.svelte'

it('svelte TodoMVC: add, complete, filter, clear', async () => {
  const store = await createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: 'todomvc' })
  const view = render(App, { context: storeContext(store) })
  await todoScenario({
    input: (el, value) => fireEvent.input(el, { target: { value } }),
    enter: (el) => fireEvent.keyDown(el, { key: 'Enter' }),
    click: (el) => fireEvent.click(el),
  })
  view.unmount()
  await store.shutdown()
})
