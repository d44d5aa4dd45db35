import { makeWorker } from '@cairn/adapter-web/worker'
import { makeWsSync } from '@cairn/sync'
import { schema } from './schema.ts'

// as cairn-sync.worker.ts, but a wiped server clears this client's local data
makeWorker({
  schema,
  sync: {
    backend: makeWsSync({ url: `${location.origin.replace('http', 'ws')}/sync`, getAuthToken: async () => 'test' }),
    onBackendIdMismatch: 'reset',
  },
})
