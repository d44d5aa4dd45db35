import { createStorePromise, makeInMemoryAdapter } from '@cairn/core'
import { storePlugin } from '@cairn/vue'
import { createApp } from 'vue'
import { schema } from '../schema.ts'
import App from './App.vue'

const store = await createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: 'todomvc' })
createApp(App).use(storePlugin(store)).mount('#app')
