import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { acquireStoreLock } from '../src/store-lock.ts'

const dir = mkdtempSync(join(tmpdir(), 'cairn-lock-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const paths = () => {
  const file = join(dir, `s${++n}.sqlite`)
  return { file, lock: `${file}.lock` }
}

describe('acquireStoreLock', () => {
  it('refuses a second holder in the same process, naming it, until the first releases', () => {
    const { file, lock } = paths()
    const release = acquireStoreLock(lock, file)
    expect(() => acquireStoreLock(lock, file)).toThrow(`The store file ${file} is held by this process (pid ${process.pid}) already`)
    release()
    expect(existsSync(lock)).toBe(false)
    acquireStoreLock(lock, file)()
  })

  it('names another live process holding the lock', async () => {
    const { file, lock } = paths()
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'])
    try {
      writeFileSync(
        lock,
        JSON.stringify({ pid: other.pid, hostname: hostname(), command: 'node holder.js', since: '2026-12-03T04:00:00.000Z' }),
      )
      expect(() => acquireStoreLock(lock, file)).toThrow(
        expect.objectContaining({
          code: 'StoreAlreadyOpen',
          message: expect.stringContaining(`process ${other.pid} on ${hostname()} (node holder.js`),
        }),
      )
    } finally {
      other.kill('SIGKILL')
    }
  })

  it('takes over the lock of a process that died without releasing it', async () => {
    const { file, lock } = paths()
    const dead = spawn(process.execPath, ['-e', ''])
    await new Promise((r) => dead.on('exit', r))
    writeFileSync(lock, JSON.stringify({ pid: dead.pid, hostname: hostname(), command: 'node', since: '' }))
    const release = acquireStoreLock(lock, file)
    expect(JSON.parse(readFileSync(lock, 'utf8')).pid).toBe(process.pid)
    release()
  })
})
