// The Node adapter's own behaviour: its file on disk, one writer per store, and bad files and
// faults (damaged, newer format, unwritable directory, full disk) as errors naming the file.
// The storage behaviour it shares with every adapter is in storage-conformance.test.ts.
import { execFileSync, spawn } from 'node:child_process'
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
  closeSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CairnError, createStorePromise, queryDb, type BootStatus } from '@cairn/core'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { makeNodeAdapter } from '../src/index.ts'
import { heldAtCommitEnd, WAL_PREGROW_BYTES } from '../src/node-vfs.ts'
import { bundleWriter } from './fixtures/bundle.ts'
import { events, schema, schemaV2 } from './fixtures/schema.ts'

const root = mkdtempSync(join(tmpdir(), 'cairn-node-adapter-'))
const mounts: string[] = []
afterAll(() => {
  for (const m of mounts) execFileSync('umount', [m])
  rmSync(root, { recursive: true, force: true })
})
let n = 0
const freshDir = () => join(root, `d${++n}`)

/** Mounts a tmpfs (root only): a real small disk, or a read-only one. False when this machine cannot. */
function mountTmpfs(path: string, options: string): boolean {
  mkdirSync(path, { recursive: true })
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', path], { stdio: 'pipe' })
    mounts.push(path)
    return true
  } catch {
    return false
  }
}
const canMount = (() => {
  const probe = join(root, 'probe')
  if (!mountTmpfs(probe, 'size=64k')) return false
  execFileSync('umount', [probe])
  mounts.pop()
  return true
})()
const isRoot = process.getuid?.() === 0
// a missing capability is a failure in CI, a skip (with this message) elsewhere
const needsMount = !canMount && process.env.CI !== 'true'
if (needsMount) console.warn('adapter-node tests: cannot mount a tmpfs here (needs root); the full-disk test is skipped.')

async function storeWith(directory: string, count: number, options: { schema?: typeof schema } = {}) {
  const store = await createStorePromise({ schema: options.schema ?? schema, storeId: 's', adapter: makeNodeAdapter({ directory }) })
  for (let i = 0; i < count; i += 500) {
    const batch = Array.from({ length: Math.min(500, count - i) }, (_, k) =>
      events.todoCreated({ id: `t${i + k}`, text: `todo number ${i + k}` }),
    )
    store.commit(...batch)
  }
  await store.commit(events.todoCompleted({ id: 't1' })).persisted
  return store
}

/** The page size in a database file's header. */
const pageSize = (file: string) => readFileSync(file).readUInt16BE(16)

const openFails = (directory: string) =>
  createStorePromise({ schema, storeId: 's', adapter: makeNodeAdapter({ directory }) }).then(
    () => {
      throw new Error('the store opened')
    },
    (e: unknown) => e,
  )

describe('makeNodeAdapter', () => {
  it('keeps each store in one SQLite file that native SQLite reads, nothing else once shut down', async () => {
    const dir = freshDir()
    const store = await storeWith(dir, 3)
    expect(store.storageMode).toBe('file')
    expect(readdirSync(dir).sort()).toEqual(['s.sqlite', 's.sqlite-wal', 's.sqlite.lock'])
    await store.shutdown()
    expect(readdirSync(dir)).toEqual(['s.sqlite'])
    const native = new Database(join(dir, 's.sqlite'), { readonly: true })
    try {
      expect(native.prepare('SELECT id, completed FROM todos ORDER BY id').all()).toEqual([
        { id: 't0', completed: 0 },
        { id: 't1', completed: 1 },
        { id: 't2', completed: 0 },
      ])
      expect(native.prepare('SELECT count(*) AS n FROM __cairn_eventlog').get()).toEqual({ n: 4 })
      expect(native.pragma('user_version', { simple: true })).toBe(1)
    } finally {
      native.close()
    }
  })

  it('has each commit in its files once persisted, large ones (spilled mid-transaction) too', async () => {
    // the VFS holds WAL writes to combine them: nothing may be held once a commit is durable
    const dir = freshDir()
    const store = await createStorePromise({ schema, storeId: 's', adapter: makeNodeAdapter({ directory: dir }) })
    const onDisk = () => {
      const copy = freshDir()
      mkdirSync(copy)
      for (const f of ['s.sqlite', 's.sqlite-wal']) writeFileSync(join(copy, f), readFileSync(join(dir, f)))
      const native = new Database(join(copy, 's.sqlite'))
      try {
        return native.prepare('SELECT (SELECT count(*) FROM todos) AS todos, (SELECT count(*) FROM __cairn_eventlog) AS logged').get()
      } finally {
        native.close()
      }
    }
    let count = 0
    const commit = async (n: number, text: string) => {
      const batch = Array.from({ length: n }, () => events.todoCreated({ id: `t${count++}`, text }))
      await store.commit(...batch).persisted
      expect(onDisk()).toEqual({ todos: count, logged: count })
    }
    await commit(1, 'one')
    await commit(1, 'two')
    await commit(100, 'a hundred')
    // more than SQLite's page cache: pages go to the WAL before the commit and are read back
    await commit(20_000, 'x'.repeat(300))
    await commit(1, 'after')
    await store.shutdown()
    // each commit wrote its frames out with its commit frame, not only at the transaction's end
    expect(heldAtCommitEnd).toBe(0)
  })

  it('grows a new WAL once the boot is done, or before its first write if that comes first', async () => {
    const dir = freshDir()
    await (await storeWith(dir, 10)).shutdown()
    const walSize = () => statSync(join(dir, 's.sqlite-wal')).size
    // a boot writes nothing: the WAL is grown after it
    const store = await createStorePromise({ schema, storeId: 's', adapter: makeNodeAdapter({ directory: dir }) })
    expect(walSize()).toBe(0)
    await new Promise((resolve) => setImmediate(resolve))
    expect(walSize()).toBe(WAL_PREGROW_BYTES)
    await store.commit(events.todoCreated({ id: 'a', text: 'after the growth' })).persisted
    await store.shutdown()
    // a commit in the boot's own tick: grown before its frames, which stay
    const again = await createStorePromise({ schema, storeId: 's', adapter: makeNodeAdapter({ directory: dir }) })
    const persisted = again.commit(events.todoCreated({ id: 'b', text: 'before the growth' })).persisted
    await persisted
    expect(walSize()).toBe(WAL_PREGROW_BYTES)
    await again.shutdown()
    const native = new Database(join(dir, 's.sqlite'), { readonly: true })
    try {
      expect(native.prepare(`SELECT id FROM todos WHERE id IN ('a', 'b') ORDER BY id`).all()).toEqual([{ id: 'a' }, { id: 'b' }])
    } finally {
      native.close()
    }
  })

  it('refuses a store another process holds, naming that process', async () => {
    const dir = freshDir()
    const writer = await bundleWriter()
    const child = spawn(process.execPath, [writer.path, dir, 's', '1', 'v1'], { stdio: ['ignore', 'pipe', 'inherit'] })
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().startsWith('ready')) resolve()
        })
        child.on('exit', () => reject(new Error('the writer exited')))
      })
      const error = await openFails(dir)
      expect(error).toBeInstanceOf(CairnError)
      expect(error).toMatchObject({ code: 'StoreAlreadyOpen' })
      expect((error as Error).message).toContain(`${join(dir, 's.sqlite')} is held by process ${child.pid} on`)
    } finally {
      child.kill('SIGKILL')
      writer.remove()
    }
    await new Promise((r) => child.once('exit', r))
    // once the holder is gone, its lock is taken over
    const store = await createStorePromise({ schema, storeId: 's', adapter: makeNodeAdapter({ directory: dir }) })
    await store.shutdown()
  })

  it('refuses a file written in a newer storage format, leaving it unchanged', async () => {
    const dir = freshDir()
    await (await storeWith(dir, 10)).shutdown()
    const file = join(dir, 's.sqlite')
    const native = new Database(file)
    native.pragma('user_version = 2')
    native.close()
    const before = readFileSync(file)
    const error = await openFails(dir)
    expect(error).toMatchObject({ code: 'StorageFormatTooNew' })
    expect((error as Error).message).toContain(`The store file ${file} was written by a newer version of Cairn (storage format 2`)
    expect(readFileSync(file).equals(before)).toBe(true)
  })

  it('refuses a file that is not a SQLite database, naming it', async () => {
    const dir = freshDir()
    await (await storeWith(dir, 10)).shutdown()
    const file = join(dir, 's.sqlite')
    const fd = openSync(file, 'r+')
    writeSync(fd, Buffer.from('this is not a database at all, but a text file that took its place'), 0, 60, 0)
    closeSync(fd)
    const error = await openFails(dir)
    expect(error).toMatchObject({ code: 'StoreCorrupt' })
    expect((error as Error).message).toContain(`The store file ${file} is damaged: it is not a SQLite database`)
  })

  it('refuses a truncated file, naming it', async () => {
    const dir = freshDir()
    await (await storeWith(dir, 3000)).shutdown()
    const file = join(dir, 's.sqlite')
    truncateSync(file, Math.floor(statSync(file).size / 2 / pageSize(file)) * pageSize(file))
    const error = await openFails(dir)
    expect(error).toMatchObject({ code: 'StoreCorrupt' })
    expect((error as Error).message).toMatch(new RegExp(`The store file ${file} is damaged: .*truncated`))
  })

  it('refuses a file with damaged pages, naming it', async () => {
    const dir = freshDir()
    await (await storeWith(dir, 3000)).shutdown()
    const file = join(dir, 's.sqlite')
    const fd = openSync(file, 'r+')
    const page = pageSize(file)
    const garbage = Buffer.alloc(page * 8, 0x5a)
    writeSync(fd, garbage, 0, garbage.length, Math.floor(statSync(file).size / 2 / page) * page)
    closeSync(fd)
    const error = await openFails(dir)
    expect(error).toMatchObject({ code: 'StoreCorrupt' })
    expect((error as Error).message).toContain(`The store file ${file} is damaged`)
  })

  it('refuses a directory it may not write, naming it', async () => {
    const dir = freshDir()
    // root writes anywhere: a read-only file system stands in for the missing permission
    if (isRoot) expect(mountTmpfs(dir, 'ro,size=64k')).toBe(true)
    else {
      mkdirSync(dir)
      chmodSync(dir, 0o555)
    }
    const error = await openFails(dir)
    expect(error).toMatchObject({ code: 'StorageUnavailable' })
    expect((error as Error).message).toContain(join(dir, 's.sqlite'))
    expect((error as Error).message).toContain('give this process write permission or choose another directory')
  })

  it.skipIf(needsMount)('reports a full disk naming the file, and confirms nothing of the append that failed', async () => {
    const dir = freshDir()
    expect(mountTmpfs(dir, 'size=512k')).toBe(true)
    const errors: unknown[] = []
    const store = await createStorePromise({
      schema,
      storeId: 's',
      adapter: makeNodeAdapter({ directory: dir }),
      onError: (e) => errors.push(e),
    })
    const persisted: string[] = []
    let failure: unknown
    for (let i = 0; i < 1000 && failure === undefined; i++) {
      try {
        await store.commit(events.todoCreated({ id: `t${i}`, text: 'x'.repeat(2000) })).persisted
        persisted.push(`t${i}`)
      } catch (e) {
        failure = e
      }
    }
    expect(failure).toBeInstanceOf(CairnError)
    expect(String((failure as Error).message)).toContain(`Cannot write ${join(dir, 's.sqlite')}`)
    expect(String((failure as Error).message)).toContain('ENOSPC')
    expect(String((failure as Error).message)).toContain('The disk is full: free space and open the store again')
    expect(errors).toHaveLength(1)
    await store.shutdown()

    execFileSync('mount', ['-o', 'remount,size=16m', dir])
    const again = await createStorePromise({ schema, storeId: 's', adapter: makeNodeAdapter({ directory: dir }) })
    expect((await again.readEventlog()).map((e) => (JSON.parse(e.json) as { id: string }).id)).toEqual(persisted)
    expect(again.query(queryDb({ query: 'SELECT count(*) AS n FROM todos' }))).toEqual([{ n: persisted.length }])
    // and it goes on where it stopped
    await again.commit(events.todoCreated({ id: 'after', text: 'space again' })).persisted
    await again.shutdown()
  })

  it('reports progress at least every ~100 ms while it rebuilds 100,000 events', async () => {
    const dir = freshDir()
    await (await storeWith(dir, 100_000)).shutdown()
    const times: number[] = []
    const statuses: BootStatus[] = []
    const store = await createStorePromise({
      schema: schemaV2,
      storeId: 's',
      adapter: makeNodeAdapter({ directory: dir }),
      onBootStatus: (s) => {
        statuses.push(s)
        if (s.stage === 'rehydrating') times.push(performance.now())
      },
    })
    const gaps = times.slice(1).map((t, i) => t - times[i]!)
    expect(statuses.at(-2)).toEqual({ stage: 'rehydrating', progress: { done: 100_001, total: 100_001 } })
    // reports come every 50 ms of work; a loaded machine (other processes on its cores) stretches
    // some gaps in wall time, so the bound is on the typical gap and a generous maximum
    const sorted = [...gaps].sort((a, b) => a - b)
    expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(100)
    expect(sorted.at(-1)).toBeLessThan(500)
    // at least one report per 100 ms of the rebuild, however long it took (not a fixed count:
    // a faster rebuild has fewer 50 ms intervals to report)
    expect(times.length).toBeGreaterThan(3)
    expect(times.length).toBeGreaterThanOrEqual(Math.floor((times.at(-1)! - times[0]!) / 100))
    expect(store.query(queryDb({ query: 'SELECT count(*) AS n FROM todos' }))).toEqual([{ n: 100_000 }])
    await store.shutdown()
  })
})
