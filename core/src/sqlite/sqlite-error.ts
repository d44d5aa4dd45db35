/** A failure reported by SQLite, with the table and column parsed out of constraint messages. */
export class SqliteError extends Error {
  readonly resultCode: number
  readonly table: string | undefined
  readonly column: string | undefined
  constructor(message: string, resultCode: number, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'SqliteError'
    this.resultCode = resultCode
    const m = /constraint failed: ([\w$]+)\.([\w$]+)/i.exec(message)
    this.table = m?.[1]
    this.column = m?.[2]
  }
  get isConstraint(): boolean {
    return (this.resultCode & 0xff) === 19
  }
}
