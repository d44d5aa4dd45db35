import { makeInMemoryAdapter } from '@cairn/core'
import { storageConformance } from './storage-conformance.ts'

storageConformance('in-memory adapter', () => {
  const adapter = makeInMemoryAdapter()
  return { reopen: () => adapter }
})
