/**
 * A token bucket: `perSecond` tokens a second, holding at most `burst`. `take()` returns 0 when a
 * token was taken, else the milliseconds until one is available (the `retryAfterMs` to send).
 */
export class TokenBucket {
  private tokens: number
  private at = performance.now()

  constructor(
    private readonly perSecond: number,
    private readonly burst = perSecond * 2,
  ) {
    this.tokens = burst
  }

  take(): number {
    const now = performance.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.perSecond) / 1000)
    this.at = now
    if (this.tokens >= 1) {
      this.tokens -= 1
      return 0
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.perSecond))
  }

  /** True when the bucket is full again (an idle entry that may be forgotten). */
  get idle(): boolean {
    return this.tokens + ((performance.now() - this.at) * this.perSecond) / 1000 >= this.burst
  }
}
