// A playground client's worker: @cairn/adapter-web's leader (eventlog and state in this client's
// OPFS file), on the schema the page ran and syncing through the client's offline switch. The
// schema is code typed into the page, so the page sends it when the store opens (makeWorker's
// factory); the client's sync connection lives here, with the leader, so its gate does too.
import { makeWorker } from '@cairn/adapter-web/worker'
import { gateChannel, NetworkGate, type GateMessage, type Transport } from './network-gate.ts'
import { schemaOf, type SchemaSource } from './schema-module.ts'

/** What the page sends (`makePersistedAdapter({ workerInput })`, see workspace.ts). */
export interface ClientWorkerInput {
  readonly clientName: string
  readonly schema: SchemaSource
  readonly syncUrl: string
  readonly transport: Transport
  readonly online: boolean
}

makeWorker((input) => {
  const { clientName, schema, syncUrl, transport, online } = input as ClientWorkerInput
  const gate = new NetworkGate(online)
  new BroadcastChannel(gateChannel(clientName)).onmessage = (e: MessageEvent<GateMessage>) => gate.setOnline(e.data.online)
  return { schema: schemaOf(schema), sync: { backend: gate.backend(new URL(syncUrl), transport), onBackendIdMismatch: 'reset' } }
})
