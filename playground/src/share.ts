/** What a shared link carries: the schema's source and the store it uses. */
export interface SharedSchema {
  readonly code: string
  readonly storeId: string
}

const PREFIX = '#schema='

async function pipe(bytes: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const out = new Blob([bytes as BlobPart]).stream().pipeThrough(stream)
  return new Uint8Array(await new Response(out).arrayBuffer())
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
  return Uint8Array.from(binary, (c) => c.charCodeAt(0))
}

/** A link to this page that opens `shared` in the editor (deflated, in the hash: never sent to a server). */
export async function shareUrl(shared: SharedSchema, base: string = location.href): Promise<string> {
  const json = new TextEncoder().encode(JSON.stringify(shared))
  const packed = toBase64Url(await pipe(json, new CompressionStream('deflate-raw')))
  return `${base.split('#')[0]}${PREFIX}${packed}`
}

/** The schema in a shared link's hash, or undefined when the hash holds none. Throws on a damaged link. */
export async function readSharedHash(hash: string = location.hash): Promise<SharedSchema | undefined> {
  if (!hash.startsWith(PREFIX)) return undefined
  let parsed: unknown
  try {
    const bytes = await pipe(fromBase64Url(hash.slice(PREFIX.length)), new DecompressionStream('deflate-raw'))
    parsed = JSON.parse(new TextDecoder().decode(bytes))
  } catch (e) {
    throw new Error(`This shared link is damaged (${(e as Error).message}); ask for it again.`, { cause: e })
  }
  const s = parsed as Partial<SharedSchema>
  if (typeof s.code !== 'string' || typeof s.storeId !== 'string') throw new Error('This shared link holds no schema.')
  return { code: s.code, storeId: s.storeId }
}
