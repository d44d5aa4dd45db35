import { createStorePromise, makeInMemoryAdapter } from '@cairn/core'
import { storePlugin } from '@cairn/vue'
import { fireEvent, render } from '@testing-library/vue'
import { it } from 'vitest'
import { todoScenario } from '../app-scenario.ts'
import { schema } from '../schema.ts'
import App from './App.vue'

it('vue TodoMVC: add, complete, filter, clear', async () => {
  const store = await createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: 'todomvc' })
  const view = render(App, { global: { plugins: [storePlugin(store)] } })
  await todoScenario({
    input: (el, value) => fireEvent.update(el, value),
    enter: (el) => fireEvent.keyDown(el, { key: 'Enter' }),
    click: (el) => fireEvent.click(el),
  })
  view.unmount()
  await store.shutdown()
})
