import { describe, expect, it } from 'vitest'
import { syncDemo } from './sync-demo.ts'

describe('sync demo (npm start, second part)', () => {
  it('shows the offline edit rebased on top of the server order, and both devices agreeing', async () => {
    const lines: string[] = []
    await syncDemo((line) => lines.push(line))
    const back = lines.indexOf('-- back online: the phone won e2, the laptop replays its edit as e3 --')
    expect(back).toBeGreaterThan(0)
    const after = lines.slice(back + 1)
    // The laptop's edit was numbered e2 offline, is rebased to e3r1, then confirmed as e3.
    expect(after).toContain('laptop: online, 1 pending, session e3r1, leader e3r1, server e2')
    expect(after).toContain('laptop: online, 0 pending, session e3, leader e3, server e3')
    expect(after).toContain('phone sees: [x] Write the spec (v2)')
    expect(lines.at(-1)).toBe('laptop: [x] Write the spec (v2); server log: e1 v1.TodoCreated, e2 v1.TodoCompleted, e3 v1.TodoRenamed')
  })
})
