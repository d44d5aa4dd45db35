import { readFile } from 'node:fs/promises'
import { extname, join, normalize, sep } from 'node:path'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { gzipSync } from 'node:zlib'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
}

interface Cached {
  readonly body: Buffer
  readonly gzip: Buffer | undefined
  readonly type: string
}

/**
 * Serves the built playground from `root`. Files are read once and kept in memory with a gzip
 * copy (the build is small and does not change while the server runs); hashed assets are cached
 * by the browser for good, index.html never.
 */
export function staticFiles(root: string): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const cache = new Map<string, Cached | null>()
  const load = async (path: string): Promise<Cached | null> => {
    if (cache.has(path)) return cache.get(path)!
    let entry: Cached | null = null
    try {
      const body = await readFile(path)
      const type = TYPES[extname(path)] ?? 'application/octet-stream'
      const compressible = type.startsWith('text/') || type === 'application/json' || type === 'image/svg+xml'
      entry = { body, type, gzip: compressible && body.length > 1024 ? gzipSync(body) : undefined }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && (e as NodeJS.ErrnoException).code !== 'EISDIR') throw e
    }
    cache.set(path, entry)
    return entry
  }
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    let rel = decodeURIComponent(url.pathname)
    if (rel.endsWith('/')) rel += 'index.html'
    const path = normalize(join(root, rel))
    if (!path.startsWith(root + sep)) {
      res.writeHead(403).end()
      return
    }
    // unknown paths get the page itself: the playground keeps its state in the hash, not the path
    const file = (await load(path)) ?? (extname(path) === '' ? await load(join(root, 'index.html')) : null)
    if (file === null) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found')
      return
    }
    const gzip = file.gzip !== undefined && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))
    res.writeHead(200, {
      'Content-Type': file.type,
      'Cache-Control': rel.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      ...(gzip ? { 'Content-Encoding': 'gzip', Vary: 'Accept-Encoding' } : {}),
    })
    res.end(req.method === 'HEAD' ? undefined : gzip ? file.gzip : file.body)
  }
}
