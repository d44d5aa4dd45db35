import { makeInMemoryAdapter } from '@cairn/core'
import { evolutionConformance } from './evolution-conformance.ts'
import { storageConformance } from './storage-conformance.ts'

const inMemory = () => {
  const adapter = makeInMemoryAdapter()
  return { reopen: () => adapter }
}
storageConformance('in-memory adapter', inMemory)
evolutionConformance('in-memory adapter', inMemory)
