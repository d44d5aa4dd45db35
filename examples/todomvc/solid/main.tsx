/** @jsxImportSource solid-js */
import { createStorePromise, makeInMemoryAdapter } from '@cairn/core'
import { StoreProvider } from '@cairn/solid'
import { render } from 'solid-js/web'
import { schema } from '../schema.ts'
import { App } from './App.tsx'

const store = await createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: 'todomvc' })
render(
  () => (
    <StoreProvider store={store}>
      <App />
    </StoreProvider>
  ),
  document.getElementById('app')!,
)
