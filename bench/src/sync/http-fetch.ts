// A minimal `fetch` over node:http with a keep-alive agent, for the long-poll clients of the sync
// bench: undici's fetch costs ~1.7 ms of CPU per request on this machine, and 500 clients in one
// process would measure that instead of the server. It does what makeHttpSync uses: method,
// headers, a string body, an AbortSignal; status, ok, headers.get, text().
import http from 'node:http'

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, noDelay: true } as http.AgentOptions)

export const httpFetch = ((input: string | URL, init: RequestInit = {}) =>
  new Promise((resolve, reject) => {
    const signal = init.signal ?? undefined
    if (signal?.aborted) return reject(signal.reason)
    const req = http.request(
      String(input),
      { method: init.method ?? 'GET', headers: init.headers as Record<string, string>, agent },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8')
          const status = res.statusCode ?? 0
          resolve({
            status,
            ok: status >= 200 && status < 300,
            headers: { get: (name: string) => (res.headers[name.toLowerCase()] as string | undefined) ?? null },
            text: async () => body,
          } as unknown as Response)
        })
        res.on('error', reject)
      },
    )
    const onAbort = () => req.destroy(Object.assign(new Error('aborted'), { name: 'AbortError' }))
    signal?.addEventListener('abort', onAbort, { once: true })
    req.on('close', () => signal?.removeEventListener('abort', onAbort))
    req.on('error', reject)
    req.end(typeof init.body === 'string' ? init.body : undefined)
  })) as typeof fetch
