import type { RevertValue } from './changeset-revert.ts'
import type { BindValues } from './sql.ts'

export type RecordedBinds = BindValues | readonly RevertValue[]

/**
 * The write statements a piece of code ran, in order, with their bind values (see
 * `recordWrites`): two parallel arrays rather than an object per write, which a 10,000-event
 * commit would have the collector copy 10,000 times.
 */
export class RecordedWrites {
  readonly sql: string[] = []
  /** Each write's bind values: a copy unless the caller never changes its array (`owned`). */
  readonly binds: (RecordedBinds | undefined)[] = []
  /** A write failed while recording: its partial effects (e.g. `OR FAIL`) cannot be replayed. */
  failed = false

  get length(): number {
    return this.sql.length
  }

  push(sql: string, bindValues: RecordedBinds | undefined, owned = false): void {
    this.sql.push(sql)
    this.binds.push(bindValues === undefined || bindValues.length === 0 ? undefined : owned ? bindValues : bindValues.slice())
  }

  append(other: RecordedWrites): void {
    for (let k = 0; k < other.sql.length; k++) {
      this.sql.push(other.sql[k]!)
      this.binds.push(other.binds[k])
    }
    if (other.failed) this.failed = true
  }
}
