import type { IncomingMessage, ServerResponse } from 'node:http'

/**
 * The `Origin` rules: with `allowedOrigins` set, a browser request (it has an `Origin`) from
 * another page is refused; allowed ones get CORS headers. Requests without `Origin` are not
 * from a web page and are left to `authorize`.
 */
export class OriginPolicy {
  constructor(private readonly allowed: '*' | readonly (string | RegExp)[] | undefined) {}

  /** False when the request comes from a page that may not use the server. */
  allows(req: IncomingMessage): boolean {
    const origin = req.headers.origin
    if (this.allowed === undefined || this.allowed === '*' || origin === undefined) return true
    return this.allowed.some((a) => (typeof a === 'string' ? a === origin : a.test(origin)))
  }

  /** CORS headers for an allowed cross-origin request ({} when there is nothing to say). */
  headers(req: IncomingMessage): Record<string, string> {
    const origin = req.headers.origin
    if (this.allowed === undefined || origin === undefined || !this.allows(req)) return {}
    return {
      'Access-Control-Allow-Origin': origin,
      'Access-Control-Expose-Headers': 'Cairn-Head, Cairn-Remaining, ETag, Retry-After',
    }
  }

  /** Answers a CORS preflight (`OPTIONS`): 204 with what the transport sends, or 403. */
  preflight(req: IncomingMessage, res: ServerResponse): void {
    if (this.allowed === undefined || !this.allows(req) || req.headers.origin === undefined) {
      res.writeHead(403, { 'Content-Type': 'application/json', Vary: 'Origin' })
      res.end(
        JSON.stringify({ v: 1, type: 'error', code: 'Forbidden', message: 'This origin may not use the sync server (allowedOrigins).' }),
      )
      return
    }
    res
      .writeHead(204, {
        ...this.headers(req),
        'Access-Control-Allow-Methods': 'GET, HEAD, POST',
        'Access-Control-Allow-Headers': 'Authorization, Content-Type, Cairn-Backend-Id, Cairn-Sync-Payload, If-None-Match',
        'Access-Control-Max-Age': '600',
        Vary: 'Origin',
      })
      .end()
  }
}
