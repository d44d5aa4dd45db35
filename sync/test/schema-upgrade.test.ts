// Old clients still in the field, through a real sync server: a client of an older release
// keeps the events it does not know, and once upgraded (the newer release opened on the same
// Node adapter directory) holds exactly the rows of a client that ran the newer release all along.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makeNodeAdapter } from '@cairn/adapter-node'
import { createStorePromise, makeInMemoryAdapter, type BootStatus, type Schema, type Store } from '@cairn/core'
import WebSocket from 'ws'
import { afterAll, describe, expect, it } from 'vitest'
import {
  events,
  itemAddedV1,
  itemAddedV2,
  itemsAppV1,
  itemsAppV2,
  release1,
  release2,
  syncedRows,
} from '../../core/test/evolution-fixtures.ts'
import { makeWsSync } from '../src/index.ts'
import { createSyncServer, sqliteStorage } from '../src/server/index.ts'
import { waitFor } from './helpers.ts'

const dir = mkdtempSync(join(tmpdir(), 'cairn-upgrade-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

interface Scenario {
  readonly name: string
  readonly older: Schema
  readonly newer: Schema
  /** What the older client commits (events its release knows). */
  readonly oldCommits: (store: Store) => void
  /** What the newer client commits, some of it unknown to the older release. */
  readonly newCommits: (store: Store) => void
}

const scenarios: Scenario[] = [
  {
    name: 'a new event (release 1 -> 2)',
    older: release1,
    newer: release2,
    oldCommits: (s) => s.commit(events.todoCreated({ id: 'a', text: 'one' }), events.todoCreated({ id: 'b', text: 'two' })),
    newCommits: (s) => s.commit(events.todoDeleted({ id: 'a' }), events.todoCompleted({ id: 'b' })),
  },
  {
    name: 'a new event version with migrate (v1.ItemAdded -> v2.ItemAdded)',
    older: itemsAppV1,
    newer: itemsAppV2,
    oldCommits: (s) => s.commit(itemAddedV1({ id: 'a', title: '!from the old app' }), itemAddedV1({ id: 'b', title: 'plain' })),
    newCommits: (s) => s.commit(itemAddedV2({ id: 'c', title: 'new', priority: 3 })),
  },
]

describe.each(scenarios)('an old client upgraded through a real sync server: $name', (scenario) => {
  it('ends with the same rows as a client that ran the newer release all along', async () => {
    const id = ++n
    // the server runs the newer schema: it knows the older events too
    const server = await createSyncServer({
      port: 0,
      storage: sqliteStorage(join(dir, `server-${id}.db`)),
      schema: scenario.newer,
      authorize: () => ({ principal: 'p' }),
    })
    const backend = () => makeWsSync({ url: server.wsUrl, getAuthToken: () => 't', WebSocket, backoff: { baseMs: 20, capMs: 200 } })
    const directory = join(dir, `client-${id}`)
    const open = (schema: Schema, adapter = makeNodeAdapter({ directory }), onBootStatus?: (s: BootStatus) => void) =>
      createStorePromise({ schema, adapter, storeId: 'app', sync: { backend: backend(), pushTimeoutMs: 3_000 }, onBootStatus })
    try {
      const old = await open(scenario.older)
      const fresh = await open(scenario.newer, makeInMemoryAdapter())
      scenario.oldCommits(old)
      scenario.newCommits(fresh)
      const settled = () =>
        [old, fresh].every(
          (s) => s.syncStatus.pending === 0 && s.syncStatus.connected && s.syncStatus.leaderHead === s.syncStatus.serverHead,
        )
      await waitFor(settled, () => JSON.stringify([old.syncStatus, fresh.syncStatus]))
      await waitFor(() => old.syncStatus.localHead === fresh.syncStatus.localHead)
      // the old release skipped what it does not know: its rows differ
      expect(syncedRows(old)).not.toEqual(syncedRows(fresh))
      const oldLog = (await old.readEventlog()).map((e) => [e.eventId, e.name, e.json, e.status])
      expect(oldLog).toEqual((await fresh.readEventlog()).map((e) => [e.eventId, e.name, e.json, e.status]))
      await old.shutdown()

      // the upgrade: the newer release on the same directory
      const stages: BootStatus[] = []
      const upgraded = await open(scenario.newer, undefined, (s) => stages.push(s))
      expect(stages.some((s) => s.stage === 'rehydrating')).toBe(true)
      expect(syncedRows(upgraded)).toEqual(syncedRows(fresh))
      await upgraded.shutdown()
      await fresh.shutdown()
    } finally {
      await server.close()
    }
  })
})
