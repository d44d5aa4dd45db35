import { formatSeqNum, syncStatus$, type LogEntry, type Store } from '@cairn/core'
import { useQuery } from '@cairn/react'
import { useVirtualizer } from '@tanstack/react-virtual'
import { useEffect, useMemo, useRef, useState } from 'react'
import { formatArgs } from '../format.ts'

const ROW_HEIGHT = 28

/** Reads the leader's eventlog again whenever the client's sync status moves (a commit, a pull, a confirm). */
export function useEventlog(store: Store): { entries: readonly LogEntry[]; error: string | undefined } {
  const status = useQuery(syncStatus$)
  const [state, setState] = useState<{ entries: readonly LogEntry[]; error: string | undefined }>({ entries: [], error: undefined })
  useEffect(() => {
    let current = true
    store.readEventlog().then(
      (entries) => current && setState({ entries, error: undefined }),
      (e: unknown) => current && setState((s) => ({ ...s, error: (e as Error)?.message ?? String(e) })),
    )
    return () => {
      current = false
    }
  }, [store, status])
  return state
}

/** The name of a client id in this playground ("A", "B"…), or the id itself for earlier clients. */
export type ClientNamer = (clientId: string) => string

/** Eventlog: sequence numbers as Cairn prints them, name, args, client, pending or confirmed. */
export function EventlogView(props: { readonly store: Store; readonly nameOf: ClientNamer; readonly compact?: boolean }) {
  const { entries, error } = useEventlog(props.store)
  const [filter, setFilter] = useState('')
  const [status, setStatus] = useState<'all' | 'pending' | 'confirmed'>('all')
  const shown = useMemo(() => {
    const f = filter.trim().toLowerCase()
    return entries.filter(
      (e) =>
        (status === 'all' || e.status === status) &&
        (f === '' ||
          e.name.toLowerCase().includes(f) ||
          formatSeqNum(e.seqNum) === f ||
          e.clientId.toLowerCase().includes(f) ||
          props.nameOf(e.clientId).toLowerCase() === f ||
          e.json.toLowerCase().includes(f)),
    )
  }, [entries, filter, status, props.nameOf])
  const scroller = useRef<HTMLDivElement>(null)
  const virtualizer = useVirtualizer({ count: shown.length, getScrollElement: () => scroller.current, estimateSize: () => ROW_HEIGHT, overscan: 10 })
  const template = props.compact ? '4.5rem 1fr 2.5rem 5.5rem' : '5rem 14rem 1fr 7rem 6rem'
  return (
    <div className={`eventlog${props.compact ? ' compact' : ''}`} data-testid="eventlog">
      {props.compact ? null : (
        <div className="row">
          <input
            type="search"
            placeholder="Filter: name, e5, client, args…"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
            aria-label="Filter the eventlog"
            data-testid="eventlog-filter"
          />
          <select value={status} onChange={(e) => setStatus(e.target.value as typeof status)} aria-label="Status">
            <option value="all">all</option>
            <option value="pending">pending</option>
            <option value="confirmed">confirmed</option>
          </select>
          <span className="muted small">
            {shown.length} of {entries.length} events
          </span>
        </div>
      )}
      {error !== undefined ? <p className="error small">{error}</p> : null}
      <div className="grid-head" style={{ gridTemplateColumns: template }}>
        <div>seq</div>
        <div>name</div>
        {props.compact ? null : <div>args</div>}
        <div>client</div>
        <div>status</div>
      </div>
      <div className="grid-body" ref={scroller} tabIndex={0} aria-label="Events">
        {entries.length === 0 ? <p className="empty">No events yet.</p> : null}
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
          {virtualizer.getVirtualItems().map((item) => {
            const e = shown[item.index]!
            return (
              <div
                key={e.eventId}
                className={`grid-row ${e.status}`}
                style={{ gridTemplateColumns: template, height: ROW_HEIGHT, transform: `translateY(${item.start}px)` }}
                data-testid="event-row"
                data-seq={formatSeqNum(e.seqNum)}
                data-name={e.name}
                data-status={e.status}
                title={props.compact ? `${e.name} ${e.json}` : undefined}
              >
                <div className="mono">{formatSeqNum(e.seqNum)}</div>
                <div className="mono">{e.name}</div>
                {props.compact ? null : <div className="mono muted">{formatArgs(e.args ?? JSON.parse(e.json))}</div>}
                <div className="mono" title={e.clientId}>
                  {props.nameOf(e.clientId)}
                </div>
                <div>
                  <span className={`badge ${e.status}`}>{e.clientOnly ? 'local' : e.status}</span>
                </div>
              </div>
            )
          })}
        </div>
      </div>
    </div>
  )
}
