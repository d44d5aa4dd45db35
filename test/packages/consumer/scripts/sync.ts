// Two devices (two stores in one Node process) sync through the cairn-sync server.
import { createStorePromise, makeInMemoryAdapter } from '@cairn/core'
import { makeWsSync } from '@cairn/sync'
import WebSocket from 'ws'
import { events, schema, todos$ } from '../src/schema.js'

const url = process.argv[2] ?? 'ws://localhost:8787'
const device = () =>
  createStorePromise({
    schema,
    adapter: makeInMemoryAdapter(),
    storeId: 'my-app',
    sync: { backend: makeWsSync({ url, getAuthToken: () => process.env.CAIRN_SYNC_TOKEN, WebSocket }) },
  })

const laptop = await device()
await laptop.commit(events.todoCreated({ id: crypto.randomUUID(), text: 'Buy milk' })).confirmed // the server has it
console.log(
  'laptop:',
  laptop.query(todos$).map((t) => t.text),
)

const phone = await device()
const rows = await new Promise<readonly { text: string }[]>((resolve) =>
  phone.subscribe(todos$, (rows) => rows.length > 0 && resolve(rows)),
)
console.log(
  'phone:',
  rows.map((t) => t.text),
  phone.syncStatus,
)
await laptop.shutdown()
await phone.shutdown()
