/**
 * A token bucket: `perSecond` tokens a second, holding at most `burst`. `take(n)` returns 0 when n
 * tokens were taken, else the milliseconds until one is available (the `retryAfterMs` to send).
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

  take(n = 1): number {
    const now = performance.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.perSecond) / 1000)
    this.at = now
    if (this.tokens >= n) {
      this.tokens -= n
      return 0
    }
    return Math.max(1, Math.ceil(((n - this.tokens) * 1000) / this.perSecond))
  }

  /**
   * Takes `n` tokens (bytes) even when that leaves the bucket in debt, so a unit larger than the
   * burst still passes; returns the milliseconds until the debt is paid (0 when there was none).
   */
  takeDebt(n: number): number {
    const now = performance.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.perSecond) / 1000) - n
    this.at = now
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.perSecond)
  }

  /** True when the bucket is full again (an idle entry that may be forgotten). */
  get idle(): boolean {
    return this.tokens + ((performance.now() - this.at) * this.perSecond) / 1000 >= this.burst
  }
}
