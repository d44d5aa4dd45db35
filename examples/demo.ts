// `npm run demo`: walks through a store in the terminal, then
// through two devices syncing (one offline, a conflicting edit, the rebase), then the same over a
// real sync server on 127.0.0.1 (WebSocket and HTTP long-poll).
import { networkDemo } from './network-demo.ts'
import { quickstart } from './quickstart.ts'
import { syncDemo } from './sync-demo.ts'

await quickstart((line) => console.log(line))
console.log('\n== sync: two devices, one server ==')
await syncDemo((line) => console.log(line))
console.log('\n== the same over the network ==')
await networkDemo((line) => console.log(line))
