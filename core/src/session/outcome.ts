/**
 * The outcome of something the store finishes later (a commit reaching the leader, or the
 * server), as a promise made only when someone asks for it. Most commits' handles are never
 * awaited; a burst of commits made before the leader runs kept two promises and their closures
 * per commit alive for the scavenger to copy.
 */
export class Outcome {
  private state: 'pending' | 'done' | 'failed' = 'pending'
  private error: unknown
  private promise_: Promise<void> | undefined
  private resolve_: (() => void) | undefined
  private reject_: ((e: unknown) => void) | undefined

  get promise(): Promise<void> {
    if (this.promise_ === undefined) {
      if (this.state === 'done') this.promise_ = Promise.resolve()
      else if (this.state === 'failed') this.promise_ = Promise.reject(this.error)
      else
        this.promise_ = new Promise<void>((resolve, reject) => {
          this.resolve_ = resolve
          this.reject_ = reject
        })
      // failures are also reported through onError, so an unawaited handle never crashes the app
      this.promise_.catch(() => {})
    }
    return this.promise_
  }

  resolve(): void {
    if (this.state !== 'pending') return
    this.state = 'done'
    this.resolve_?.()
  }

  reject(error: unknown): void {
    if (this.state !== 'pending') return
    this.state = 'failed'
    this.error = error
    this.reject_?.(error)
  }

  /** `resolve()` without an error, else `reject(error)`. */
  settle(error?: unknown): void {
    if (error === undefined) this.resolve()
    else this.reject(error)
  }
}
