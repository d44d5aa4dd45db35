// A worker whose options come from the page at open time (makeWorker(factory) + workerInput).
import { makeWorker } from '@cairn/adapter-web/worker'
import { schema } from './schema.ts'

makeWorker(async (input) => {
  const { schema: name } = input as { schema: string }
  if (name !== 'todos') throw new Error(`no schema named "${name}" in this worker`)
  return { schema }
})
