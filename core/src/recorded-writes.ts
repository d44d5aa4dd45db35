import type { RevertValue } from './changeset-revert.ts'
import type { BindValues, SqlValue } from './sql.ts'

/**
 * The write statements a piece of code ran, in order, with their bind values (see
 * `recordWrites`). Flat arrays: a 10,000-event commit records 10,000 writes, and an object per
 * write would be garbage the collector has to copy.
 */
export class RecordedWrites {
  readonly sql: string[] = []
  /** Where each write's bind values end in `values` (they start where the previous one's end). */
  readonly ends: number[] = []
  readonly values: (SqlValue | RevertValue)[] = []
  /** A write failed while recording: its partial effects (e.g. `OR FAIL`) cannot be replayed. */
  failed = false

  get length(): number {
    return this.sql.length
  }

  push(sql: string, bindValues: BindValues | readonly RevertValue[] | undefined): void {
    this.sql.push(sql)
    if (bindValues !== undefined) for (let i = 0; i < bindValues.length; i++) this.values.push(bindValues[i]!)
    this.ends.push(this.values.length)
  }

  append(other: RecordedWrites): void {
    for (let k = 0, from = 0; k < other.sql.length; k++) {
      const to = other.ends[k]!
      this.sql.push(other.sql[k]!)
      for (let i = from; i < to; i++) this.values.push(other.values[i]!)
      this.ends.push(this.values.length)
      from = to
    }
    if (other.failed) this.failed = true
  }
}
