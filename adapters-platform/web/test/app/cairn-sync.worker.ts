import { makeWorker } from '@cairn/adapter-web/worker'
import { makeWsSync } from '@cairn/sync'
import { schema } from './schema.ts'

makeWorker({
  schema,
  sync: { backend: makeWsSync({ url: `${location.origin.replace('http', 'ws')}/sync`, getAuthToken: async () => 'test' }) },
})
