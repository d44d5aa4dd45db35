import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { tokensEqual } from '../src/cli.ts'
import { makeHttpSync } from '../src/index.ts'
import { connect, waitFor, wireEvents } from './helpers.ts'

// the bin's source under tsx; the built dist/bin.js on plain Node is run by test/packages/consumer.test.ts
const bin = join(import.meta.dirname, '..', 'src', 'bin.ts')
const node = ['--conditions=@cairn/source', '--import', 'tsx', bin]
const dir = mkdtempSync(join(tmpdir(), 'cairn-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function start(
  args: string[],
  env: Record<string, string> = {},
): { child: ChildProcess; url: Promise<string>; exit: Promise<number | null>; output: () => string } {
  const child = spawn(process.execPath, [...node, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const url = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /and (http:\/\/\S+) \(HTTP/.exec(output)
      if (match) resolve(match[1]!)
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.once('exit', () => reject(new Error(`cairn-sync exited: ${output}`)))
  })
  url.catch(() => {})
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, url, exit, output: () => output }
}

describe('cairn-sync (bin)', () => {
  it('serves a data directory, keeps it across a restart, stops on SIGTERM', async () => {
    const dataDir = join(dir, 'data')
    const first = start(['--data-dir', dataDir, '--port', '0'], { CAIRN_SYNC_TOKEN: 'tok' })
    const url = await first.url
    const a = connect(makeHttpSync({ url, getAuthToken: () => 'tok' }), { storeId: 'cli' })
    await waitFor(() => a.connection.connected, first.output, 15_000)
    expect((await a.connection.push(wireEvents(a.clientId, 1, 3))).assigned).toEqual([1, 2, 3])
    await a.connection.close()
    first.child.kill('SIGTERM')
    expect(await first.exit).toBe(0)

    const second = start(['--data-dir', dataDir, '--port', '0'], { CAIRN_SYNC_TOKEN: 'tok' })
    const b = connect(makeHttpSync({ url: await second.url, getAuthToken: () => 'tok' }), { storeId: 'cli' })
    await waitFor(() => b.cursor === 3, second.output, 15_000)
    expect(b.events.map((e) => (e as { principal?: string }).principal)).toEqual(['token', 'token', 'token'])
    const intruder = connect(makeHttpSync({ url: await second.url, getAuthToken: () => 'wrong' }), { storeId: 'cli' })
    await waitFor(() => intruder.disconnects.length > 0)
    expect(String(intruder.disconnects[0])).toMatch(/Unauthorized|token/)
    await intruder.connection.close()
    await b.connection.close()
    second.child.kill('SIGTERM')
    expect(await second.exit).toBe(0)
  }, 40_000)

  it('refuses to start without a token or --allow-anyone, and without --data-dir', async () => {
    const noToken = start(['--data-dir', join(dir, 'x')], { CAIRN_SYNC_TOKEN: '' })
    expect(await noToken.exit).toBe(2)
    expect(noToken.output()).toMatch(/CAIRN_SYNC_TOKEN/)
    const noDir = start([])
    expect(await noDir.exit).toBe(2)
    expect(noDir.output()).toMatch(/--data-dir is required/)
  }, 20_000)

  it('--allow-anyone serves only pages from localhost unless --allowed-origin says otherwise', async () => {
    const open = start(['--data-dir', join(dir, 'anyone'), '--port', '0', '--allow-anyone'], { CAIRN_SYNC_TOKEN: '' })
    const url = await open.url
    const push = (origin: string) =>
      fetch(`${url}/stores/s/push`, {
        method: 'POST',
        headers: { Origin: origin, 'Content-Type': 'text/plain' },
        body: JSON.stringify({ v: 1, type: 'push', reqId: 1, events: wireEvents('c', 1, 1) }),
      })
    expect((await push('https://evil.test')).status).toBe(403)
    const upgrade = new WebSocket(url.replace('http', 'ws'), { origin: 'https://evil.test' })
    const refused = await new Promise<number>((resolve) => upgrade.once('unexpected-response', (_q, res) => resolve(res.statusCode!)))
    expect(refused).toBe(403)
    expect((await push('http://localhost:5173')).status).toBe(200)
    open.child.kill('SIGTERM')
    expect(await open.exit).toBe(0)

    const allowed = start(
      ['--data-dir', join(dir, 'anyone'), '--port', '0', '--allow-anyone', '--allowed-origin', 'https://app.example.com'],
      {
        CAIRN_SYNC_TOKEN: '',
      },
    )
    const url2 = await allowed.url
    const res = await fetch(`${url2}/stores/s/info`, { headers: { Origin: 'https://app.example.com' } })
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com')
    allowed.child.kill('SIGTERM')
    expect(await allowed.exit).toBe(0)
  }, 40_000)
})

describe('tokensEqual', () => {
  it('compares tokens of any lengths without throwing (constant-time on their digests)', () => {
    expect(tokensEqual('s3cret', 's3cret')).toBe(true)
    expect(tokensEqual('s3cret', 's3creT')).toBe(false)
    expect(tokensEqual('', 's3cret')).toBe(false)
    expect(tokensEqual('s3cret-and-more', 's3cret')).toBe(false)
    expect(tokensEqual('ü', 'ü')).toBe(true)
  })
})
