import type { IncomingMessage } from 'node:http'

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) is `1.2.3.4`. */
function normalize(address: string): string {
  const a = address.trim().toLowerCase()
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a
}

function isLoopback(address: string): boolean {
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address)
}

/**
 * The client's address for the per-address limits and `authorize`: the socket's peer, or, when
 * that peer is a trusted proxy, the last `X-Forwarded-For` hop that is not one (hops further left
 * were written by the client itself and prove nothing).
 */
export function clientAddress(req: IncomingMessage, trustProxy: readonly string[] | undefined): string {
  const peer = normalize(req.socket.remoteAddress ?? 'unknown')
  if (trustProxy === undefined || trustProxy.length === 0) return peer
  const trusted = new Set(trustProxy.map(normalize))
  const isTrusted = (a: string) => trusted.has(a) || (trusted.has('loopback') && isLoopback(a))
  if (!isTrusted(peer)) return peer
  const header = req.headers['x-forwarded-for']
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map(normalize)
    .filter((h) => h !== '')
  let address = peer
  for (let i = hops.length - 1; i >= 0; i--) {
    address = hops[i]!
    if (!isTrusted(address)) break
  }
  return address.slice(0, 64)
}
