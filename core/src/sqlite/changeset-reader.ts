// The one reader of SQLite's changeset format (sqlite.org/sessionintro.html, "changeset format"):
// per table a header 'T', varint nCol, nCol primary-key flags, the NUL-terminated name; then its
// change records: op (INSERT 18, DELETE 9, UPDATE 23), an indirect flag, and one (INSERT, DELETE)
// or two (UPDATE: old, new) records of nCol values. A value is a type byte: 0 absent, 1 integer
// (8 bytes, big-endian, signed), 2 real (8 bytes IEEE, big-endian), 3 text and 4 blob (varint
// length, bytes), 5 null.

import { SqliteError } from './sqlite-error.ts'

const TABLE = 0x54 // 'T'
export const INSERT = 18
export const DELETE = 9
export const UPDATE = 23
const decoder = new TextDecoder()

/** A real number that must be bound as one (SQLite keeps 1.0 and 1 apart in untyped columns). */
export class SqlReal {
  constructor(readonly value: number) {}
}
export type RevertValue = string | number | bigint | Uint8Array | SqlReal | null
/** A column an UPDATE record leaves out (it did not change). */
export const ABSENT = Symbol('absent')
export type ChangesetValue = RevertValue | typeof ABSENT

/** A table header of a changeset. */
export interface ChangesetTable {
  readonly name: string
  /** A primary-key flag per column. */
  readonly pk: Uint8Array
}

/**
 * Reads a changeset from its bytes, one part at a time; throws a SqliteError (SQLITE_CORRUPT)
 * on bytes it cannot read instead of guessing.
 */
export class ChangesetReader {
  private i = 0
  private nCol = -1
  private readonly view: DataView

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  get done(): boolean {
    return this.i >= this.bytes.length
  }

  /** Whether a table header comes next (else a change record). */
  get atTable(): boolean {
    return this.bytes[this.i] === TABLE
  }

  table(): ChangesetTable {
    const bytes = this.bytes
    this.i++
    this.nCol = this.varint()
    const pk = bytes.subarray(this.i, this.i + this.nCol)
    this.i += this.nCol
    const end = bytes.indexOf(0, this.i)
    if (end < 0) throw truncated()
    const name = decoder.decode(bytes.subarray(this.i, end))
    this.i = end + 1
    return { name, pk }
  }

  /** The operation of the next change record (INSERT, DELETE or UPDATE); its records follow. */
  op(): number {
    const op = this.bytes[this.i]!
    if (this.nCol < 0) throw corrupt(`a change record before any table header at byte ${this.i}`)
    if (op !== INSERT && op !== DELETE && op !== UPDATE) throw corrupt(`unexpected operation ${op} at byte ${this.i}`)
    this.i += 2 // op, indirect flag
    return op
  }

  /** Steps over one record of values. */
  skipRecord(): void {
    const bytes = this.bytes
    const n = bytes.length
    for (let c = 0; c < this.nCol; c++) {
      if (this.i >= n) throw truncated()
      const type = bytes[this.i++]!
      if (type === 1 || type === 2) this.i += 8
      else if (type === 3 || type === 4) {
        const len = this.varint() // read before adding: `this.i += this.varint()` would add to the old offset
        this.i += len
      } else if (type !== 0 && type !== 5) throw corrupt(`unexpected value type ${type} at byte ${this.i - 1}`)
    }
    if (this.i > n) throw truncated()
  }

  /** Reads one record of values: integers beyond 2^53 as bigint, reals as SqlReal. */
  record(): ChangesetValue[] {
    const bytes = this.bytes
    const n = bytes.length
    const values: ChangesetValue[] = new Array(this.nCol)
    for (let c = 0; c < this.nCol; c++) {
      if (this.i >= n) throw truncated()
      const type = bytes[this.i++]!
      if (type === 0) values[c] = ABSENT
      else if (type === 5) values[c] = null
      else if (type === 1) {
        if (this.i + 8 > n) throw truncated()
        const big = this.view.getBigInt64(this.i)
        this.i += 8
        values[c] = big >= -9007199254740991n && big <= 9007199254740991n ? Number(big) : big
      } else if (type === 2) {
        if (this.i + 8 > n) throw truncated()
        values[c] = new SqlReal(this.view.getFloat64(this.i))
        this.i += 8
      } else if (type === 3 || type === 4) {
        const len = this.varint()
        if (this.i + len > n) throw truncated()
        values[c] = type === 3 ? decoder.decode(bytes.subarray(this.i, this.i + len)) : bytes.slice(this.i, this.i + len)
        this.i += len
      } else throw corrupt(`unexpected value type ${type} at byte ${this.i - 1}`)
    }
    return values
  }

  private varint(): number {
    // SQLite varint: 7 bits per byte, high bit set means more; lengths here fit in 32 bits
    const bytes = this.bytes
    let v = 0
    for (let k = 0; k < 9; k++) {
      if (this.i >= bytes.length) throw truncated()
      const b = bytes[this.i++]!
      if (k === 8) return v * 256 + b
      v = v * 128 + (b & 0x7f)
      if ((b & 0x80) === 0) return v
    }
    return v
  }
}

// The names of the tables in a changeset, straight from its bytes. The session extension's
// iterator would do it too, but one wasm call and one string copy per changed row made it a
// tenth of a 10,000-event commit; skipping over the records in JS costs almost nothing.
/** The tables a changeset changes, in order of appearance. */
export function changesetTableNames(bytes: Uint8Array): Set<string> {
  const tables = new Set<string>()
  const reader = new ChangesetReader(bytes)
  while (!reader.done) {
    if (reader.atTable) {
      tables.add(reader.table().name)
      continue
    }
    const op = reader.op()
    reader.skipRecord()
    if (op === UPDATE) reader.skipRecord()
  }
  return tables
}

function corrupt(detail: string): SqliteError {
  return new SqliteError(`The changeset is corrupt: ${detail}`, 11)
}
function truncated(): SqliteError {
  return corrupt('it ends in the middle of a record')
}
