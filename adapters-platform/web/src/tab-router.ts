// Runs in each tab's worker: takes part in the election, and routes the page session's calls to
// the store's leader, hosted here when this tab leads, else in another tab's worker reached over
// a BroadcastChannel (which needs no SharedWorker). When the leader changes, calls without an
// answer go to the new one (appends are recognised by eventId there, so nothing is logged twice)
// and the session catches up on confirmed events the old leader logged but did not announce.
import type { EventRecord, LeaderMessage } from '@cairn/core'
import { elect, type Election } from './election.ts'
import type { CatchUp, LeaderHost, WireAppendResult, WireBoot } from './leader-host.ts'
import { fromWireError, toResult, toWireError, type Result, type WireError, type WorkerEvent } from './wire.ts'

export type Method = 'boot' | 'append' | 'readLog' | 'since' | 'dropRefusedEvent' | 'rematerialize'

type ChannelMessage =
  | {
      readonly kind: 'request'
      readonly from: string
      readonly id: number
      readonly method: Method
      readonly args: readonly unknown[]
      readonly resent: boolean
    }
  | { readonly kind: 'response'; readonly to: string; readonly id: number; readonly result: Result<unknown> }
  | { readonly kind: 'message'; readonly message: LeaderMessage }
  | { readonly kind: 'log'; readonly event: WorkerEvent }
  | { readonly kind: 'leader'; readonly leaderId: string }
  | { readonly kind: 'resign'; readonly leaderId: string }
  | { readonly kind: 'who' }

interface Call {
  readonly id: number
  readonly method: Method
  readonly args: readonly unknown[]
  readonly resolve: (result: Result<unknown>) => void
  /** Sent to a leader before: it may have acted on it. */
  sent: boolean
}

export function randomId(length = 8): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
  const bytes = crypto.getRandomValues(new Uint8Array(length))
  let id = ''
  for (const b of bytes) id += alphabet[b % alphabet.length]
  return id
}

export class TabRouter {
  readonly id = randomId()
  private readonly channel: BroadcastChannel
  private host: LeaderHost | undefined
  /** Why this tab, elected, could not open the leader: every call gets this error. */
  private hostFailure: WireError | undefined
  private leaderId: string | undefined
  private readonly calls = new Map<number, Call>()
  private nextId = 1
  /** The last global number delivered to the session (its upstream head); undefined before boot. */
  private deliveredHead: number | undefined
  private catchingUp = false
  private missed = false
  private election: Election | undefined
  private closed = false

  constructor(
    private readonly storeId: string,
    private readonly openHost: (log: (event: WorkerEvent) => void) => Promise<LeaderHost>,
    private readonly emit: (event: WorkerEvent) => void,
  ) {
    this.channel = new BroadcastChannel(`cairn-tabs:${storeId}`)
  }

  start(): void {
    this.channel.onmessage = (e: MessageEvent<ChannelMessage>) => this.onChannel(e.data)
    this.election = elect(
      this.storeId,
      () => void this.lead(),
      (e) => this.emit({ type: 'error', error: toWireError(e) }),
    )
    this.channel.postMessage({ kind: 'who' } satisfies ChannelMessage)
  }

  get isLeader(): boolean {
    return this.leaderId === this.id
  }

  /** Calls the leader, wherever it is; waits while there is none. */
  call<T>(method: 'boot'): Promise<Result<WireBoot>>
  call<T>(method: 'append', args: readonly [readonly EventRecord[], unknown]): Promise<Result<WireAppendResult>>
  call<T>(method: Method, args?: readonly unknown[]): Promise<Result<T>>
  call(method: Method, args: readonly unknown[] = []): Promise<Result<unknown>> {
    if (this.closed) return Promise.resolve({ ok: false, error: closedError(this.storeId) })
    return new Promise((resolve) => {
      const call: Call = { id: this.nextId++, method, args, resolve, sent: false }
      this.calls.set(call.id, call)
      this.dispatch(call)
    })
  }

  /** Leaves the election; a leader closes its store first, so the next one can open the file. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const host = this.host
    this.host = undefined
    try {
      if (host !== undefined) {
        await host.close()
        this.channel.postMessage({ kind: 'resign', leaderId: this.id } satisfies ChannelMessage)
      }
    } finally {
      this.election?.resign()
      this.channel.close()
      for (const call of this.calls.values()) call.resolve({ ok: false, error: closedError(this.storeId) })
      this.calls.clear()
    }
  }

  private async lead(): Promise<void> {
    if (this.closed) return
    try {
      const host = await this.openHost((event) => {
        this.channel.postMessage({ kind: 'log', event } satisfies ChannelMessage)
        this.emit(event)
      })
      if (this.closed) {
        await host.close()
        return
      }
      this.host = host
      host.subscribe((message) => {
        this.channel.postMessage({ kind: 'message', message } satisfies ChannelMessage)
        this.deliver(message)
      })
    } catch (e) {
      // keep the lock: another tab would fail the same way; every session gets this error
      this.hostFailure = toWireError(e)
    }
    this.leaderId = this.id
    this.emit({ type: 'role', leader: true })
    this.channel.postMessage({ kind: 'leader', leaderId: this.id } satisfies ChannelMessage)
    this.onLeaderChange()
  }

  private onChannel(msg: ChannelMessage): void {
    if (this.closed) return
    switch (msg.kind) {
      case 'request':
        if (this.isLeader) void this.serve(msg.method, msg.args, msg.resent).then((result) => this.respond(msg.from, msg.id, result))
        return
      case 'response':
        if (msg.to === this.id) this.finish(msg.id, msg.result)
        return
      case 'message':
        if (!this.isLeader) this.deliver(msg.message)
        return
      case 'log':
        if (!this.isLeader) this.emit(msg.event)
        return
      case 'leader':
        if (!this.isLeader && this.leaderId !== msg.leaderId) {
          this.leaderId = msg.leaderId
          this.onLeaderChange()
        }
        return
      case 'resign':
        if (this.leaderId === msg.leaderId) this.leaderId = undefined
        return
      case 'who':
        if (this.isLeader) this.channel.postMessage({ kind: 'leader', leaderId: this.id } satisfies ChannelMessage)
        return
    }
  }

  private respond(to: string, id: number, result: Result<unknown>): void {
    try {
      this.channel.postMessage({ kind: 'response', to, id, result } satisfies ChannelMessage)
    } catch (e) {
      // an answer that cannot be cloned still answers: with the reason
      this.channel.postMessage({ kind: 'response', to, id, result: { ok: false, error: toWireError(e) } } satisfies ChannelMessage)
    }
  }

  private onLeaderChange(): void {
    for (const call of [...this.calls.values()]) this.dispatch(call)
    void this.catchUp()
  }

  private dispatch(call: Call): void {
    if (this.isLeader) {
      const resent = call.sent
      call.sent = true
      void this.serve(call.method, call.args, resent).then((result) => this.finish(call.id, result))
      return
    }
    if (this.leaderId === undefined) return // sent when a leader announces itself
    this.channel.postMessage({
      kind: 'request',
      from: this.id,
      id: call.id,
      method: call.method,
      args: call.args,
      resent: call.sent,
    } satisfies ChannelMessage)
    call.sent = true
  }

  private serve(method: Method, args: readonly unknown[], resent: boolean): Promise<Result<unknown>> {
    return toResult<unknown>(() => {
      const host = this.host
      if (host === undefined) throw fromWireError(this.hostFailure ?? closedError(this.storeId))
      switch (method) {
        case 'boot':
          return host.boot()
        case 'append':
          return host.append(args[0] as EventRecord[], args[1] as Parameters<LeaderHost['append']>[1], resent)
        case 'readLog':
          return host.readLog()
        case 'since':
          return host.since(args[0] as number)
        case 'dropRefusedEvent':
          return host.dropRefusedEvent(args[0] as string)
        case 'rematerialize':
          return host.rematerialize()
      }
    })
  }

  private finish(id: number, result: Result<unknown>): void {
    const call = this.calls.get(id)
    if (call === undefined) return // answered already (a call re-sent after a leader change)
    this.calls.delete(id)
    if (call.method === 'boot' && result.ok) this.deliveredHead = (result.value as WireBoot).upstreamHead
    call.resolve(result)
  }

  /**
   * Hands a leader message to the session, keeping its upstream events contiguous: events it
   * has are dropped, and a gap (events the old leader logged but never announced) is filled
   * from the leader's log first.
   */
  private deliver(message: LeaderMessage): void {
    if (message.type !== 'upstream') {
      this.emit({ type: 'leader', message })
      return
    }
    const head = this.deliveredHead
    if (head === undefined) return // no session yet: its boot snapshot will hold these
    const events = message.events.filter((e) => e.seqNum.global > head)
    if (events.length === 0) {
      this.emit({ type: 'leader', message: { type: 'status', status: message.status } })
      return
    }
    if (events[0]!.seqNum.global !== head + 1) {
      void this.catchUp()
      return
    }
    this.deliveredHead = events[events.length - 1]!.seqNum.global
    this.emit({ type: 'leader', message: { type: 'upstream', events, status: message.status } })
  }

  private async catchUp(): Promise<void> {
    if (this.catchingUp) {
      this.missed = true
      return
    }
    this.catchingUp = true
    try {
      do {
        this.missed = false
        const head = this.deliveredHead
        if (head === undefined) return
        const result = (await this.call('since', [head])) as Result<CatchUp>
        if (!result.ok) {
          if (!this.closed) this.emit({ type: 'error', error: result.error })
          return
        }
        if (this.deliveredHead !== head) continue // a boot moved the session meanwhile
        this.deliver({ type: 'upstream', events: result.value.events, status: result.value.status })
      } while (this.missed && !this.closed)
    } finally {
      this.catchingUp = false
    }
  }
}

function closedError(storeId: string): WireError {
  return { name: 'CairnError', code: 'LeaderClosed', message: `The leader of store "${storeId}" is closed.` }
}
