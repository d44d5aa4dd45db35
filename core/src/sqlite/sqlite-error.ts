import { CairnError } from '../errors.ts'

/**
 * A failure reported by SQLite (code `Sqlite`), with SQLite's result code and the table and
 * column parsed out of constraint messages.
 */
export class SqliteError extends CairnError {
  readonly resultCode: number
  readonly table: string | undefined
  readonly column: string | undefined

  constructor(message: string, resultCode: number, options?: { cause?: unknown }) {
    super('Sqlite', message, options)
    this.resultCode = resultCode
    const m = /constraint failed: ([\w$]+)\.([\w$]+)/i.exec(message)
    this.table = m?.[1]
    this.column = m?.[2]
  }

  get isConstraint(): boolean {
    return (this.resultCode & 0xff) === 19
  }
}
