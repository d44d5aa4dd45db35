// The store's leader: eventlog and state in one SQLite file in OPFS, shared by the app's tabs.
import { makeWorker } from '@cairn/adapter-web/worker'
import { schema } from './schema'

makeWorker({ schema })
