import { describe, expect, it } from 'vitest'
import { networkDemo } from './network-demo.ts'

describe('network demo (npm start, third part)', () => {
  it('syncs two devices through a real server, one over WebSocket and one over long-poll', async () => {
    const lines: string[] = []
    await networkDemo((line) => lines.push(line))
    expect(lines).toEqual([
      'sync server: WebSocket and HTTP long-poll on 127.0.0.1, SQLite storage',
      'laptop (WebSocket) and phone (long-poll) are connected',
      'laptop: [x] Write the spec, [ ] Review the spec (v2)',
      'phone:  [x] Write the spec, [ ] Review the spec (v2)',
      'both at e4, nothing pending; the server appended 4 events',
    ])
  })
})
