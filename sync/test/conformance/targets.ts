import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SyncBackend } from '@cairn/core'
import { makeInMemorySyncServer } from '@cairn/core/testing'
import WebSocket from 'ws'
import { makeHttpSync, makeWsSync, type GetAuthToken } from '../../src/index.ts'
import { createSyncServer, sqliteStorage, type ServerLimits } from '../../src/server/index.ts'

/** A sync backend under test, with a server the suite can wipe. */
export interface ConformanceTarget {
  readonly name: string
  /** Whether the target checks tokens (the in-memory backend has no auth). */
  readonly auth: boolean
  start(limits: Partial<ServerLimits>): Promise<TargetServer>
}

export interface TargetServer {
  backend(options?: { getAuthToken?: GetAuthToken }): SyncBackend
  wipe(storeId: string): Promise<void>
  /** Tokens the server was shown, in order (auth targets). */
  readonly tokens: string[]
  close(): Promise<void>
}

export const memoryTarget: ConformanceTarget = {
  name: 'in-memory backend',
  auth: false,
  async start(limits) {
    const { maxEventBytes, maxEventsPerPush, maxFrameBytes, pullPageSize } = limits
    const server = makeInMemorySyncServer({ seed: 7, limits: { maxEventBytes, maxEventsPerPush, maxFrameBytes, pullPageSize } })
    return {
      backend: () => server.backend(),
      wipe: async (storeId) => server.wipe(storeId),
      tokens: [],
      close: async () => {},
    }
  },
}

/** A real server on loopback (port 0) with SQLite storage in a temp dir; tokens starting with "ok" pass, "forbidden…" is refused access. */
async function startRealServer(
  limits: Partial<ServerLimits>,
  make: (urls: { url: string; wsUrl: string }, getAuthToken: GetAuthToken) => SyncBackend,
): Promise<TargetServer> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-conf-'))
  const tokens: string[] = []
  const server = await createSyncServer({
    port: 0,
    storage: sqliteStorage(join(dir, 'sync.db')),
    limits,
    authorize: ({ token }) => {
      tokens.push(token ?? '')
      if (token?.startsWith('ok')) return { principal: `user-${token}` }
      return token?.startsWith('forbidden') ? { refuse: 'Forbidden' } : { refuse: 'Unauthorized' }
    },
  })
  return {
    backend: (options = {}) => make(server, options.getAuthToken ?? (() => 'ok')),
    wipe: (storeId) => server.wipe(storeId),
    tokens,
    close: async () => {
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

const fastBackoff = { baseMs: 20, capMs: 200 }

export const wsTarget: ConformanceTarget = {
  name: 'WebSocket',
  auth: true,
  start: (limits) =>
    startRealServer(limits, ({ wsUrl }, getAuthToken) => makeWsSync({ url: wsUrl, getAuthToken, WebSocket, backoff: fastBackoff })),
}

export const httpTarget: ConformanceTarget = {
  name: 'HTTP long-poll',
  auth: true,
  start: (limits) => startRealServer(limits, ({ url }, getAuthToken) => makeHttpSync({ url, getAuthToken, backoff: fastBackoff })),
}
