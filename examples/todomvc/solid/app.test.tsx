/** @jsxImportSource solid-js */
import { createStorePromise, makeInMemoryAdapter } from '@cairn/core'
import { StoreProvider } from '@cairn/solid'
import { fireEvent, render } from '@solidjs/testing-library'
import { it } from 'vitest'
import { todoScenario } from '../app-scenario.ts'
import { schema } from '../schema.ts'
import { App } from './App.tsx'

it('solid TodoMVC: add, complete, filter, clear', async () => {
  const store = await createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: 'todomvc' })
  const view = render(() => (
    <StoreProvider store={store}>
      <App />
    </StoreProvider>
  ))
  await todoScenario({
    input: (el, value) => fireEvent.input(el, { target: { value } }),
    enter: (el) => fireEvent.keyDown(el, { key: 'Enter' }),
    click: (el) => fireEvent.click(el),
  })
  view.unmount()
  await store.shutdown()
})
