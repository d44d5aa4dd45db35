import { loadSqlite } from '@cairn/core'
import { existsSync } from 'node:fs'
import { cairnNode } from '../src/node/cairn-node.ts'
const dir = '/tmp/nboot'
const p = { persist: 100_000 } as any
if (!existsSync(`${dir}/bench.sqlite`)) { console.log('setup', await cairnNode.setup(p, dir)) ; process.exit(0) }
await loadSqlite()
console.log(JSON.stringify((await cairnNode.boot(p, dir)).metrics))
