// The append rules every storage shares live in @cairn/core (`planAppend`), where the in-memory
// test server uses them too: one implementation for the real storages and the test double.
export { pageEnd, planAppend, type ProducerLookup } from '@cairn/core'

export function newBackendId(): string {
  return crypto.randomUUID()
}
