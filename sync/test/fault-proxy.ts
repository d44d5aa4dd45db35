import { createServer, connect, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'

/** Faults of the proxy, as probabilities (0..1) per chunk of data, drawn from a seeded generator. */
export interface ProxyFaults {
  /** Cut both sockets when a chunk passes (in either direction). */
  readonly drop?: number
  /** Hold a chunk 1..maxDelayMs longer (order is kept). */
  readonly delay?: number
  readonly maxDelayMs?: number
  /** A chunk from the client holding a push: forward only part of it, then cut. */
  readonly cutMidPush?: number
  /** A chunk from the client holding a push: forward it, then cut before the answer comes back. */
  readonly cutAfterPush?: number
}

/**
 * A TCP proxy on loopback between one client and the sync server, with seeded faults: the real
 * network failures (a dead connection, slow delivery, a push cut in half or cut after the server
 * got it) under real sockets. `setOnline(false)` cuts every connection and refuses new ones.
 */
export class FaultProxy {
  private server: Server | undefined
  private readonly pairs = new Set<[Socket, Socket]>()
  private online = true
  private blackhole = false
  port = 0
  /** `faults`: connections cut by a fault (not by going offline or closing). */
  stats = { connections: 0, faults: 0, delayed: 0 }

  constructor(
    private readonly target: number,
    private faults: ProxyFaults,
    private readonly random: () => number,
  ) {}

  async start(): Promise<this> {
    this.server = createServer((client) => this.accept(client))
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    this.port = (this.server.address() as AddressInfo).port
    return this
  }

  setFaults(faults: ProxyFaults): void {
    this.faults = faults
  }

  /** Stops forwarding without closing anything: the connection looks alive but nothing arrives. */
  setBlackhole(on: boolean): void {
    this.blackhole = on
  }

  /** Stops reading from the server (TCP backpressure builds up on the server's side), or resumes. */
  stallServerToClient(on: boolean): void {
    for (const [, upstream] of this.pairs) on ? upstream.pause() : upstream.resume()
  }

  setOnline(online: boolean): void {
    this.online = online
    if (!online) for (const pair of [...this.pairs]) this.cut(pair)
  }

  async close(): Promise<void> {
    for (const pair of [...this.pairs]) this.cut(pair)
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve())
  }

  private chance(p: number | undefined): boolean {
    return p !== undefined && p > 0 && this.random() < p
  }

  private cut(pair: [Socket, Socket], fault = false): void {
    if (!this.pairs.delete(pair)) return
    if (fault) this.stats.faults++
    pair[0].destroy()
    pair[1].destroy()
  }

  private accept(client: Socket): void {
    if (!this.online) {
      client.destroy()
      return
    }
    this.stats.connections++
    const upstream = connect(this.target, '127.0.0.1')
    const pair: [Socket, Socket] = [client, upstream]
    this.pairs.add(pair)
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    const end = () => this.cut(pair)
    for (const s of pair) {
      s.on('error', end)
      s.on('close', end)
    }
    this.pipe(client, upstream, pair, true)
    this.pipe(upstream, client, pair, false)
  }

  /** Forwards `from` → `to` chunk by chunk, applying faults; delayed chunks keep their order. */
  private pipe(from: Socket, to: Socket, pair: [Socket, Socket], fromClient: boolean): void {
    let releaseAt = 0
    from.on('data', (chunk: Buffer) => {
      if (!this.pairs.has(pair) || this.blackhole) return
      const f = this.faults
      if (this.chance(f.drop)) return this.cut(pair, true)
      const isPush = fromClient && chunk.includes('"type":"push"')
      if (isPush && this.chance(f.cutMidPush)) {
        to.write(chunk.subarray(0, Math.floor(chunk.length / 2)))
        return this.cut(pair, true)
      }
      const cutAfter = isPush && this.chance(f.cutAfterPush)
      const now = performance.now()
      let at = Math.max(now, releaseAt)
      if (this.chance(f.delay)) {
        this.stats.delayed++
        at += 1 + this.random() * (f.maxDelayMs ?? 50)
      }
      releaseAt = at
      const forward = () => {
        if (!this.pairs.has(pair)) return
        to.write(chunk)
        if (cutAfter) setTimeout(() => this.cut(pair, true), 5)
      }
      if (at <= now) forward()
      else setTimeout(forward, at - now)
    })
  }
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
