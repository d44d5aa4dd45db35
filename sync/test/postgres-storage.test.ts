import { SyncError } from '@cairn/core'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { postgresStorage } from '../src/storage/postgres.ts'
import { SCHEMA_VERSION } from '../src/storage/postgres-schema.ts'
import { ev, runStorageConformance } from './conformance/storage-suite.ts'
import { adminPool, freshSchema, PG_URL, pgStorage, reachable, terminate } from './postgres-fixture.ts'

describe.runIf(reachable)('postgresStorage', () => {
  runStorageConformance('postgresStorage', () => pgStorage())

  describe('postgresStorage', () => {
    it('creates its tables with a schema version, and a second start (another node) finds them', async () => {
      const schema = freshSchema()
      const [a, b] = await Promise.all([pgStorage({ schema }), pgStorage({ schema })])
      const version = await adminPool().query(
        `SELECT value FROM ${pg.escapeIdentifier(schema)}.cairn_sync_meta WHERE key = 'schema_version'`,
      )
      expect(version.rows).toEqual([{ value: String(SCHEMA_VERSION) }])
      expect(await a.append('s', [ev('c1', 1)], 'alice')).toMatchObject({ assigned: [1] })
      expect(await b.append('s', [ev('c2', 1)], 'bob')).toMatchObject({ assigned: [2] })
      expect((await a.info('s')).backendId).toBe((await b.info('s')).backendId)
      await Promise.all([a.close(), b.close()])
      // reopened: the log, numbers and backendId are kept
      const c = await pgStorage({ schema })
      expect((await c.page('s', 0, 10)).events.map((e) => [e.seq, e.principal])).toEqual([
        [1, 'alice'],
        [2, 'bob'],
      ])
      await c.close()
    })

    it('refuses tables written by a newer version, naming the schema and what to do', async () => {
      const schema = freshSchema()
      await (await pgStorage({ schema })).close()
      await adminPool().query(
        `UPDATE ${pg.escapeIdentifier(schema)}.cairn_sync_meta SET value = '${SCHEMA_VERSION + 1}' WHERE key = 'schema_version'`,
      )
      await expect(pgStorage({ schema })).rejects.toThrow(
        new RegExp(`schema "${schema}" have schema version ${SCHEMA_VERSION + 1}.*upgrade`),
      )
    })

    it('fails to start with a clear error when PostgreSQL is unreachable', async () => {
      await expect(postgresStorage({ connectionString: 'postgres://postgres@127.0.0.1:1/test', schema: freshSchema() })).rejects.toThrow(
        /cannot connect to PostgreSQL/,
      )
    })

    it('a cut connection fails the operation as retryable; the next one reconnects by itself', async () => {
      const logs: string[] = []
      const schema = freshSchema()
      const s = await pgStorage({ schema, applicationName: 'cairn-t-cut', logs })
      await s.append('a', [ev('c1', 1)], undefined)
      // a connection cut in the middle of an append: hold the store's head row so the append waits on it
      const holder = await adminPool().connect()
      await holder.query('BEGIN')
      await holder.query(`SELECT head FROM ${pg.escapeIdentifier(schema)}.cairn_sync_stores WHERE store_id = 'a' FOR UPDATE`)
      const waiting = s.append('a', [ev('c1', 2)], undefined).then(
        () => undefined,
        (e: unknown) => e,
      )
      await new Promise((r) => setTimeout(r, 200))
      expect(await terminate('cairn-t-cut')).toBeGreaterThanOrEqual(1)
      const error = await waiting
      await holder.query('ROLLBACK')
      holder.release()
      expect(error).toBeInstanceOf(SyncError)
      expect([(error as SyncError).code, (error as SyncError).retryAfterMs]).toEqual(['Unavailable', 1_000])
      expect((error as SyncError).message).toMatch(/PostgreSQL.*unreachable.*try again/)
      // the retry lands once
      expect(await s.append('a', [ev('c1', 2)], undefined)).toMatchObject({ assigned: [2], head: 2 })
      expect(s.stats.unavailable).toBe(1)
      await s.close()
    })
  })
})
