import { makeWorker } from '@cairn/adapter-web/worker'
import { schema } from './schema.ts'

makeWorker({ schema })
