import { CairnError } from '@cairn/core'
import { checkStoreId } from '../protocol.ts'

/**
 * Checks a transport's options where they enter (`makeWsSync` / `makeHttpSync`), so a typo
 * throws at once with the option's name instead of failing later inside the reconnect loop.
 */
export function checkTransportOptions(fn: 'makeWsSync' | 'makeHttpSync', options: unknown, schemes: readonly string[]): void {
  const fail = (message: string): never => {
    throw new CairnError('InvalidOption', `${fn}: ${message}`)
  }
  if (options === null || typeof options !== 'object') fail('pass an options object ({ url, getAuthToken }).')
  const o = options as Record<string, unknown>
  checkUrl(fn, o.url, schemes)
  if (typeof o.getAuthToken !== 'function')
    fail('"getAuthToken" must be a function returning the token (or null without auth), e.g. () => session.token.')
  for (const key of ['fetch', 'WebSocket'] as const)
    if (o[key] !== undefined && typeof o[key] !== 'function') fail(`"${key}" must be a function (a class for WebSocket) when given.`)
  for (const key of ['requestTimeoutMs', 'pingIntervalMs', 'pongTimeoutMs'] as const) {
    const v = o[key]
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v <= 0))
      fail(`"${key}" must be a positive number of milliseconds.`)
  }
  const backoff = o.backoff
  if (backoff !== undefined) {
    if (backoff === null || typeof backoff !== 'object') fail('"backoff" must be an object { baseMs, capMs }.')
    for (const [key, v] of Object.entries(backoff as object))
      if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) fail(`"backoff.${key}" must be a number ≥ 0.`)
  }
  const fallback = o.fallback
  if (fallback !== undefined && typeof fallback !== 'boolean') {
    if (fallback === null || typeof fallback !== 'object') fail('"fallback" must be true, false or the long-poll options ({ url }).')
    checkUrl(fn, (fallback as { url?: unknown }).url, ['http:', 'https:'], 'fallback.url')
  }
}

function checkUrl(fn: string, url: unknown, schemes: readonly string[], name = 'url'): void {
  const example = schemes[0] === 'ws:' ? 'ws://localhost:8787' : 'http://localhost:8787'
  if (typeof url !== 'string' || url === '') throw new CairnError('InvalidOption', `${fn}: "${name}" is required, e.g. '${example}'.`)
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (e) {
    throw new CairnError('InvalidOption', `${fn}: "${name}" ${JSON.stringify(url).slice(0, 100)} is not a URL, e.g. '${example}'.`, {
      cause: e,
    })
  }
  if (!schemes.includes(parsed.protocol))
    throw new CairnError(
      'InvalidOption',
      `${fn}: "${name}" must start with ${schemes.join(' or ')}, not ${parsed.protocol} (${JSON.stringify(url).slice(0, 100)}).`,
    )
}

/** The store id check of both transports (the server applies the same rule): a clear error when a store cannot sync. */
export function assertSyncableStoreId(storeId: string): void {
  const problem = checkStoreId(storeId)
  if (problem !== undefined)
    throw new CairnError(
      'InvalidStoreId',
      `Store id ${JSON.stringify(storeId).slice(0, 80)} cannot be synced: ${problem}. Pick another storeId in createStorePromise.`,
    )
}
