// One workload of one system, in its own process (so GC and JIT state never leak between
// runs). Started by main.ts with `fork`; sends back one message: the result or the failure.
import type { Params, SystemId, WorkloadId } from './params.ts'
import type { SystemModule, WorkloadResult } from './types.ts'

export type ChildMessage = { ok: true; result: WorkloadResult } | { ok: false; error: string }

const loaders: Record<SystemId, () => Promise<SystemModule>> = {
  raw: async () => (await import('./systems/raw.ts')).raw,
  cairn: async () => (await import('./systems/cairn.ts')).cairn,
  livestore: async () => (await import('./systems/livestore.ts')).livestore,
}

async function main(): Promise<ChildMessage> {
  const [system, workload, paramsJson] = process.argv.slice(2) as [SystemId, WorkloadId, string]
  const params = JSON.parse(paramsJson) as Params
  const t0 = performance.now()
  const mod = await loaders[system]()
  const importMs = performance.now() - t0
  const result = await mod[workload](params)
  return { ok: true, result: workload === 'w1' ? { ...result, metrics: { import_ms: importMs, ...result.metrics } } : result }
}

function send(message: ChildMessage): void {
  if (process.send) process.send(message, () => process.exit(0))
  else {
    console.log(JSON.stringify(message, null, 2))
    process.exit(0)
  }
}

main().then(send, (e: unknown) => {
  const err = e as Error
  send({ ok: false, error: firstLine(err?.message ?? String(e)) })
  if (process.env.BENCH_DEBUG) console.error(err)
})

function firstLine(s: string): string {
  const line = s.split('\n').find((l) => l.trim() !== '') ?? s
  return line.length > 160 ? `${line.slice(0, 157)}...` : line
}
