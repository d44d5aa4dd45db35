import { loadSqlite } from '@cairn/core'
import { cairnNode } from '../src/node/cairn-node.ts'
await loadSqlite()
await new Promise((r) => setTimeout(r, 300))
const t0 = performance.now()
const m = (await cairnNode.boot({ persist: 100_000 } as any, '/tmp/nboot')).metrics
console.log(JSON.stringify(m), 'total incl shutdown', performance.now() - t0)
await new Promise((r) => setTimeout(r, 300))
