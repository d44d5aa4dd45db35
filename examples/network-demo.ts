// The same two devices, now over a real network: a Cairn sync server listens on 127.0.0.1
// (SQLite storage in a temporary directory); the laptop syncs over WebSocket, the phone over HTTP
// long-poll. Both edit while connected; the server orders the edits and both end up equal.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createStorePromise, makeInMemoryAdapter, queryDb, type Store, type SyncBackend } from '@cairn/core'
import { makeHttpSync, makeWsSync } from '@cairn/sync'
import { createSyncServer, sqliteStorage } from '@cairn/sync/server'
import WebSocket from 'ws'
import { events, schema, todos } from './sync-demo.ts'

export async function networkDemo(log: (line: string) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-demo-'))
  const token = 'demo-token'
  const server = await createSyncServer({
    port: 0,
    host: '127.0.0.1',
    storage: sqliteStorage(join(dir, 'sync.db')),
    schema,
    authorize: ({ token: t }) => (t === token ? { principal: { id: 'demo' } } : { refuse: 'Unauthorized' }),
  })
  log(`sync server: WebSocket and HTTP long-poll on 127.0.0.1, SQLite storage`)
  const open = (backend: SyncBackend) => createStorePromise({ schema, adapter: makeInMemoryAdapter(), storeId: 'team', sync: { backend } })
  const laptop = await open(makeWsSync({ url: server.wsUrl, getAuthToken: () => token, WebSocket }))
  const phone = await open(makeHttpSync({ url: server.url, getAuthToken: () => token }))
  try {
    await until(() => laptop.syncStatus.connected && phone.syncStatus.connected)
    log('laptop (WebSocket) and phone (long-poll) are connected')
    laptop.commit(events.todoCreated({ id: 'a', text: 'Write the spec' }))
    phone.commit(events.todoCreated({ id: 'b', text: 'Review the spec' }))
    await until(() => settled(laptop, 2) && settled(phone, 2))
    phone.commit(events.todoCompleted({ id: 'a' }))
    laptop.commit(events.todoRenamed({ id: 'b', text: 'Review the spec (v2)' }))
    await until(() => settled(laptop, 4) && settled(phone, 4))
    const all$ = queryDb(todos.orderBy('id'))
    const show = (s: Store<typeof schema>) =>
      s
        .query(all$)
        .map((t) => `${t.completed ? '[x]' : '[ ]'} ${t.text}`)
        .join(', ')
    log(`laptop: ${show(laptop)}`)
    log(`phone:  ${show(phone)}`)
    log(`both at ${laptop.syncStatus.localHead}, nothing pending; the server appended ${server.stats.eventsAppended} events`)
  } finally {
    await laptop.shutdown()
    await phone.shutdown()
    await server.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

function settled(store: Store<typeof schema>, head: number): boolean {
  return store.syncStatus.pending === 0 && store.syncStatus.localHead === `e${head}`
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now()
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('the demo did not converge within 10 s; is something else using the machine?')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await networkDemo((line) => console.log(line))
