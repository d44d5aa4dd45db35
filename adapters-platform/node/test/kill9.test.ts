// kill -9 of a writing process at random moments (while it commits, boots or rebuilds its state):
// every event it printed as persisted is in the log after reopening, the state equals a fresh
// replay of the log, and the store opens without any repair. CI runs a CI-sized count;
// CAIRN_KILL9_RUNS=500 runs more.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createStorePromise, queryDb, type LogEntry } from '@cairn/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeNodeAdapter } from '../src/index.ts'
import { bundleWriter } from './fixtures/bundle.ts'
import { schema, schemaV2 } from './fixtures/schema.ts'

const RUNS = Number(process.env.CAIRN_KILL9_RUNS ?? 50)
const dir = mkdtempSync(join(tmpdir(), 'cairn-kill9-'))
let writer = ''
let removeWriter = () => {}

beforeAll(async () => {
  ;({ path: writer, remove: removeWriter } = await bundleWriter())
})
afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
  removeWriter()
})

let seed = 20261203
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

interface Run {
  readonly persisted: string[]
  readonly stderr: string
  readonly sawReady: boolean
}

/** Starts the writer and kills it (SIGKILL) `afterMs` after its first persisted event, or after spawning when `early`. */
function killedRun(version: 'v1' | 'v2', runSeed: number, afterMs: number, early: boolean): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, dir, 'killed', String(runSeed), version], { stdio: ['ignore', 'pipe', 'pipe'] })
    const persisted: string[] = []
    let stderr = ''
    let sawReady = false
    let buffered = ''
    const kill = () => setTimeout(() => child.kill('SIGKILL'), afterMs)
    if (early) kill()
    // a writer that never gets to its first durable commit is killed too (and the run fails)
    else setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk
      const lines = buffered.split('\n')
      buffered = lines.pop()! // a line cut by the kill was never printed whole
      for (const line of lines) {
        if (line === 'ready') sawReady = true
        else if (line.startsWith('persisted ')) {
          // counted from its first durable commit, so a slow machine still kills it mid-commit
          if (!early && persisted.length === 0) kill()
          persisted.push(line.slice('persisted '.length))
        }
      }
    })
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('exit', () => resolve({ persisted, stderr, sawReady }))
  })
}

/** The todos a fresh replay of `log` gives (in log order). */
function replay(log: readonly LogEntry[]): Map<string, { text: string; completed: number }> {
  const todos = new Map<string, { text: string; completed: number }>()
  for (const e of log) {
    const args = JSON.parse(e.json) as { id: string; text?: string }
    if (e.name === 'v1.TodoCreated' && !todos.has(args.id)) todos.set(args.id, { text: args.text!, completed: 0 })
    if (e.name === 'v1.TodoRenamed' && todos.has(args.id)) todos.get(args.id)!.text = args.text!
    if (e.name === 'v1.TodoCompleted' && todos.has(args.id)) todos.get(args.id)!.completed = 1
  }
  return todos
}

describe('makeNodeAdapter under kill -9', () => {
  it(`keeps every persisted event and a state equal to a replay of the log, over ${RUNS} kills`, async () => {
    const everPersisted: string[] = []
    let version: 'v1' | 'v2' = 'v1'
    let readyRuns = 0
    for (let k = 0; k < RUNS; k++) {
      // every fifth run changes the schema: the child rebuilds its state at boot, and may die doing it
      if (k % 5 === 4) version = version === 'v1' ? 'v2' : 'v1'
      const early = random() < 0.2
      const run = await killedRun(version, k + 1, early ? 50 + random() * 600 : random() * 300, early)
      expect(run.stderr, `run ${k}: the writer reported errors`).toBe('')
      if (run.sawReady) readyRuns++
      if (!early) expect(run.persisted.length, `run ${k}: the writer persisted nothing in 20 s`).toBeGreaterThan(0)
      everPersisted.push(...run.persisted)

      const store = await createStorePromise({
        schema: version === 'v2' ? schemaV2 : schema,
        storeId: 'killed',
        adapter: makeNodeAdapter({ directory: dir }),
      })
      const log = await store.readEventlog()
      const texts = new Set(
        log
          .map((e) => JSON.parse(e.json) as { id?: string; text?: string })
          .map((a) => (a.text?.startsWith('renamed by ') ? a.text.slice(11) : a.id)),
      )
      const missing = everPersisted.filter((p) => !texts.has(p.split(':')[0]!))
      expect(missing, `run ${k}: persisted events missing after the kill`).toEqual([])
      const rows = store.query(queryDb({ query: 'SELECT id, text, completed FROM todos ORDER BY id' })) as {
        id: string
        text: string
        completed: number
      }[]
      const expected = [...replay(log)].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, t]) => ({ id, ...t }))
      expect(rows, `run ${k}: state differs from a replay of the log`).toEqual(expected)
      await store.shutdown()
    }
    // the battery mostly killed writers mid-commit, not only mid-boot
    expect(readyRuns).toBeGreaterThan(RUNS / 2)
  }, 600_000)
})
