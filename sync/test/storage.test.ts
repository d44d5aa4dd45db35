import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { memoryStorage } from '../src/storage/memory.ts'
import { sqliteStorage } from '../src/storage/sqlite.ts'
import type { SyncStorage } from '../src/storage/types.ts'
import { ev, runStorageConformance } from './conformance/storage-suite.ts'

const dir = mkdtempSync(join(tmpdir(), 'cairn-storage-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0

/** One conformance suite, every storage. */
const storages: [string, () => SyncStorage][] = [
  ['memoryStorage', () => memoryStorage()],
  ['sqliteStorage', () => sqliteStorage(join(dir, `s${++files}.db`))],
]

for (const [name, make] of storages) runStorageConformance(name, make)

describe('sqliteStorage', () => {
  it('keeps the log, numbers and backendId across a reopen of the file', async () => {
    const path = join(dir, 'reopen.db')
    const first = sqliteStorage(path)
    await first.append('a', [ev('c1', 1), ev('c1', 2)], 'alice')
    const { backendId } = await first.info('a')
    await first.close()
    const second = sqliteStorage(path)
    expect(await second.info('a')).toEqual({ backendId, head: 2 })
    expect(await second.append('a', [ev('c1', 2), ev('c1', 3)], 'alice')).toMatchObject({ assigned: [2, 3] })
    await second.close()
  })
})
