import { syncStatus$, type Store } from '@cairn/core'
import { StoreProvider, useQuery } from '@cairn/react'
import { useMemo, useState } from 'react'
import { MAX_CLIENTS, type PlaygroundClient } from '../workspace.ts'
import { EventForm } from './commit-view.tsx'
import { EventlogView, type ClientNamer } from './eventlog-view.tsx'
import { TablesView } from './tables-view.tsx'

/**
 * Clients: each card is its own store (own leader and SQLite, persisted in its own OPFS file where
 * the browser has one) synced through the embedded server.
 * Switch one offline, commit on both, switch it back and watch the rebase converge.
 */
export function ClientsView(props: {
  readonly clients: readonly PlaygroundClient[]
  readonly nameOf: ClientNamer
  readonly onOnline: (name: string, online: boolean) => void
  readonly onAdd: (transport: 'websocket' | 'long-poll') => void
  readonly onRemove: () => void
  readonly onReset: (name: string) => void
}) {
  return (
    <div className="clients-view">
      <div className="row">
        <span className="muted small">
          {props.clients.length} clients, each with its own store. The server fixes one order; a client whose pending events were overtaken rebases them (
          <span className="mono">e5r1</span>).
        </span>
        <span className="spacer" />
        <button onClick={() => props.onAdd('websocket')} disabled={props.clients.length >= MAX_CLIENTS} data-testid="add-client">
          + client (WebSocket)
        </button>
        <button onClick={() => props.onAdd('long-poll')} disabled={props.clients.length >= MAX_CLIENTS}>
          + client (long-poll)
        </button>
        <button onClick={props.onRemove} disabled={props.clients.length <= 1}>
          − client
        </button>
      </div>
      <div className="client-grid" style={{ gridTemplateColumns: `repeat(${props.clients.length}, minmax(18rem, 1fr))` }}>
        {props.clients.map((c) => (
          <StoreProvider key={`${c.name}:${c.store.clientId}`} store={c.store}>
            <ClientCard client={c} nameOf={props.nameOf} onOnline={(online) => props.onOnline(c.name, online)} onReset={() => props.onReset(c.name)} />
          </StoreProvider>
        ))}
      </div>
    </div>
  )
}

function ClientCard(props: {
  readonly client: PlaygroundClient
  readonly nameOf: ClientNamer
  readonly onOnline: (online: boolean) => void
  readonly onReset: () => void
}) {
  const { client } = props
  const status = useQuery(syncStatus$)
  const online = client.gate.online
  return (
    <section className="panel client-card" data-testid={`client-${client.name}`} aria-label={`Client ${client.name}`}>
      <header className="row">
        <h3>
          Client {client.name} <span className="mono muted small">{client.store.clientId}</span>
        </h3>
        <span
          className={`badge ${client.storage === 'opfs' ? 'confirmed' : 'pending'}`}
          title={client.storageNote ?? `Its own SQLite file in OPFS (.cairn-${client.store.storeId}@${client.name}), led by its own worker: a reload boots from it.`}
          data-testid="storage"
        >
          {client.storage === 'opfs' ? 'OPFS' : 'memory'}
        </span>
        <span className="spacer" />
        <button
          className="ghost small"
          onClick={props.onReset}
          title="Delete this client's local data (file and client id) and open it again: it pulls the store back from the server"
          data-testid={`reset-${client.name}`}
        >
          reset local data
        </button>
        <label className="switch" title="Cut this client off the network (its store keeps working)">
          <input type="checkbox" role="switch" checked={online} onChange={(e) => props.onOnline(e.target.checked)} data-testid={`online-${client.name}`} />
          <span>{online ? 'online' : 'offline'}</span>
        </label>
      </header>
      <dl className="heads" data-testid={`heads-${client.name}`}>
        <div>
          <dt>session</dt>
          <dd className="mono" data-testid="head-session">
            {status.localHead}
          </dd>
        </div>
        <div>
          <dt>leader</dt>
          <dd className="mono" data-testid="head-leader">
            {status.leaderHead}
          </dd>
        </div>
        <div>
          <dt>server</dt>
          <dd className="mono" data-testid="head-server">
            {status.serverHead ?? '–'}
          </dd>
        </div>
        <div>
          <dt>pending</dt>
          <dd className="mono" data-testid="pending">
            {status.pending}
          </dd>
        </div>
        <div>
          <dt>link</dt>
          <dd data-testid="connected">
            <span className={`badge ${status.connected ? 'confirmed' : 'pending'}`}>{status.connected ? client.transport : 'disconnected'}</span>
          </dd>
        </div>
      </dl>
      {client.storageNote !== undefined ? (
        <p className="note small" data-testid="storage-note">
          {client.storageNote}
        </p>
      ) : null}
      {status.error !== null ? <p className="error small">{status.error.message}</p> : null}
      <ClientCommit store={client.store} name={client.name} />
      <div className="client-table">
        <TablesView store={client.store} />
      </div>
      <div className="client-log">
        <EventlogView store={client.store} nameOf={props.nameOf} compact />
      </div>
    </section>
  )
}

function ClientCommit(props: { readonly store: Store; readonly name: string }) {
  const events = useMemo(() => [...props.store.schema.eventsByName.values()], [props.store.schema])
  const [selected, setSelected] = useState(events[0]?.eventName ?? '')
  const def = events.find((e) => e.eventName === selected) ?? events[0]
  if (def === undefined) return null
  return (
    <div className="client-commit">
      <select value={def.eventName} onChange={(e) => setSelected(e.target.value)} aria-label={`Event to commit on client ${props.name}`} data-testid="client-event">
        {events.map((e) => (
          <option key={e.eventName}>{e.eventName}</option>
        ))}
      </select>
      <EventForm key={def.eventName} def={def} store={props.store} clientName={props.name} />
    </div>
  )
}
