// Shared, deterministic inputs for every system: the rows, the events' args and the SQL of the
// subscribed queries. Every system runs exactly these statements, so differences are the
// systems' own overhead.

export type ColumnKind = 'int' | 'bool' | 'text' | 'textOrNull'

/** A subscribed query: the same SQL and bind values in every system. */
export interface QuerySpec {
  readonly label: string
  readonly sql: string
  readonly bindValues: readonly (string | number)[]
  /** Result columns, in order, so raw SQLite can read them with typed column reads. */
  readonly columns: readonly (readonly [name: string, kind: ColumnKind])[]
}

export const TODO_INDEX = { name: 'todos_completed_text', columns: ['completed', 'text'] as const }

export interface TodoArgs {
  readonly id: string
  readonly text: string
  readonly createdAt: string
}

const WORDS = [
  'buy', 'call', 'write', 'review', 'fix', 'plan', 'clean', 'book', 'send', 'read', 'pay', 'order', 'draft',
  'update', 'check', 'email', 'prepare', 'file', 'schedule', 'test', 'deploy', 'water', 'renew', 'return',
  'milk', 'report', 'invoice', 'flights', 'garden', 'taxes', 'slides', 'budget', 'dentist', 'groceries',
  'notes', 'release', 'backup', 'ticket', 'meeting', 'design', 'kitchen', 'library', 'parcel', 'insurance',
]
const BASE_TIME = Date.UTC(2026, 0, 1)

/** mulberry32: a tiny seeded PRNG, so every process generates the same rows. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `n` todos with realistic, unique, randomly ordered texts. `prefix` keeps ids of separate batches apart. */
export function makeTodos(n: number, seed = 1, prefix = 't'): TodoArgs[] {
  const rand = prng(seed)
  const pick = () => WORDS[Math.floor(rand() * WORDS.length)]!
  const out: TodoArgs[] = new Array(n)
  for (let i = 0; i < n; i++) {
    out[i] = {
      id: `${prefix}${i}`,
      text: `${pick()} ${pick()} ${pick()} #${i}`,
      createdAt: new Date(BASE_TIME + i * 1000).toISOString(),
    }
  }
  return out
}

/** The ids of `todos` ordered by text: workload 4 completes the open todo that sorts first. */
export function idsByText(todos: readonly TodoArgs[]): string[] {
  return [...todos].sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0)).map((t) => t.id)
}

export interface OtherArgs {
  readonly id: string
  readonly label: string
  readonly value: number
}

export const OTHER_ROWS = 100

export function makeOthers(n = OTHER_ROWS): OtherArgs[] {
  return Array.from({ length: n }, (_, i) => ({ id: `o${i}`, label: `other ${i}`, value: (i * 37) % 101 }))
}

const todoRowColumns = [
  ['id', 'text'],
  ['text', 'text'],
  ['completed', 'int'],
  ['createdAt', 'textOrNull'],
] as const

/**
 * Ten queries on `todos`, what a todo app keeps on screen. Chosen so each stays cheap with the
 * (completed, text) index (only "open count" scans the open rows: ~0.6 ms at 10k rows in
 * sqlite-wasm), and so that completing the open todo that sorts first (workload 4, where no todo
 * starts completed) changes every one of their results.
 */
export const TODO_QUERIES: readonly QuerySpec[] = [
  { label: 'open count', sql: 'SELECT count(*) AS n FROM todos WHERE completed = ?', bindValues: [0], columns: [['n', 'int']] },
  { label: 'done count', sql: 'SELECT count(*) AS n FROM todos WHERE completed = ?', bindValues: [1], columns: [['n', 'int']] },
  {
    label: 'open window',
    sql: 'SELECT id, text, completed, createdAt FROM todos WHERE completed = ? ORDER BY text LIMIT ?',
    bindValues: [0, 50],
    columns: todoRowColumns,
  },
  {
    label: 'open page 2',
    sql: 'SELECT id, text, completed, createdAt FROM todos WHERE completed = ? ORDER BY text LIMIT ? OFFSET ?',
    bindValues: [0, 50, 50],
    columns: todoRowColumns,
  },
  {
    label: 'open top 10',
    sql: 'SELECT id, text FROM todos WHERE completed = ? ORDER BY text LIMIT ?',
    bindValues: [0, 10],
    columns: [['id', 'text'], ['text', 'text']],
  },
  {
    label: 'next up',
    sql: 'SELECT id, text, createdAt FROM todos WHERE completed = ? ORDER BY text LIMIT ?',
    bindValues: [0, 1],
    columns: [['id', 'text'], ['text', 'text'], ['createdAt', 'textOrNull']],
  },
  {
    label: 'done window (desc)',
    sql: 'SELECT id, text, completed, createdAt FROM todos WHERE completed = ? ORDER BY text DESC LIMIT ?',
    bindValues: [1, 50],
    columns: todoRowColumns,
  },
  {
    label: 'last done',
    sql: 'SELECT id, text FROM todos WHERE completed = ? ORDER BY text DESC LIMIT ?',
    bindValues: [1, 1],
    columns: [['id', 'text'], ['text', 'text']],
  },
  {
    label: 'done by first letter',
    sql: 'SELECT substr(text, 1, 1) AS letter, count(*) AS n FROM todos WHERE completed = ? GROUP BY 1',
    bindValues: [1],
    columns: [['letter', 'text'], ['n', 'int']],
  },
  {
    label: 'done a-m count',
    sql: 'SELECT count(*) AS n FROM todos WHERE completed = ? AND text < ?',
    bindValues: [1, 'n'],
    columns: [['n', 'int']],
  },
]

/** Ninety distinct queries on `other`, a table the todo workloads never write. */
export const OTHER_QUERIES: readonly QuerySpec[] = [
  ...Array.from({ length: 60 }, (_, i): QuerySpec => ({
    label: `other by id ${i}`,
    sql: 'SELECT id, label, value FROM other WHERE id = ?',
    bindValues: [`o${i}`],
    columns: [['id', 'text'], ['label', 'text'], ['value', 'int']],
  })),
  ...Array.from({ length: 20 }, (_, i): QuerySpec => ({
    label: `other count > ${i * 5}`,
    sql: 'SELECT count(*) AS n FROM other WHERE value > ?',
    bindValues: [i * 5],
    columns: [['n', 'int']],
  })),
  ...Array.from({ length: 10 }, (_, i): QuerySpec => ({
    label: `other top ${i + 1}`,
    sql: 'SELECT id, label FROM other ORDER BY value DESC LIMIT ?',
    bindValues: [i + 1],
    columns: [['id', 'text'], ['label', 'text']],
  })),
]

/** Workload 3's query, as the builders of Cairn and LiveStore render it (checked at run time). */
export const WINDOW_QUERY: QuerySpec = {
  label: 'open window (workload 3)',
  sql: 'SELECT * FROM todos WHERE completed = ? ORDER BY text ASC LIMIT ?',
  bindValues: [0, 50],
  // decoded like the builders decode it: completed as a boolean
  columns: [['id', 'text'], ['text', 'text'], ['completed', 'bool'], ['createdAt', 'textOrNull']],
}
