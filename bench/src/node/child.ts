// One step of one system in its own process (main.ts forks it): a boot or rebuild measured here
// starts cold, as after a restart. Sends back one message: the result or the failure.
import type { NodeParams, NodeSystemId } from './params.ts'
import type { NodeSystem, StepId, StepResult } from './types.ts'

export type NodeChildMessage = { ok: true; result: StepResult } | { ok: false; error: string }

const loaders: Record<NodeSystemId, () => Promise<NodeSystem>> = {
  'cairn-node': async () => (await import('./cairn-node.ts')).cairnNode,
  bsql: async () => (await import('./bsql.ts')).bsql,
  'livestore-file': async () => (await import('./livestore-file.ts')).livestoreFile,
}

async function main(): Promise<NodeChildMessage> {
  const [system, step, paramsJson, dir] = process.argv.slice(2) as [NodeSystemId, StepId, string, string]
  const mod = await loaders[system]()
  return { ok: true, result: await mod[step](JSON.parse(paramsJson) as NodeParams, dir) }
}

function send(message: NodeChildMessage): void {
  if (process.send) process.send(message, () => process.exit(0))
  else {
    console.log(JSON.stringify(message, null, 2))
    process.exit(0)
  }
}

main().then(send, (e: unknown) => {
  const message = (e as Error)?.message ?? String(e)
  send({ ok: false, error: message.split('\n')[0]!.slice(0, 200) })
  if (process.env.BENCH_DEBUG) console.error(e)
})
