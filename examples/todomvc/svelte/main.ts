import { createStorePromise, makeInMemoryAdapter } from '@cairn/core'
import { storeContext } from '@cairn/svelte'
import { mount } from 'svelte'
import { schema } from '../schema.ts'
import App from './App.svelte'

const store = await createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: 'todomvc' })
mount(App, { target: document.getElementById('app')!, context: storeContext(store) })
