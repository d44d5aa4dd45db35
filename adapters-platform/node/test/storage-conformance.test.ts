import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { evolutionConformance } from '../../test/evolution-conformance.ts'
import { storageConformance } from '../../test/storage-conformance.ts'
import { makeNodeAdapter } from '../src/index.ts'

const root = mkdtempSync(join(tmpdir(), 'cairn-node-conformance-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let n = 0

// every reopen is a new adapter on the same directory, as after a restart
const onDisk = () => {
  const directory = join(root, `d${++n}`)
  return { reopen: () => makeNodeAdapter({ directory }) }
}
storageConformance('node adapter', onDisk)
evolutionConformance('node adapter', onDisk)
