import type { Schema } from '@cairn/core'
import * as chatModule from './presets/chat.ts'
import chat from './presets/chat.ts?raw'
import * as issuesModule from './presets/issues.ts'
import issues from './presets/issues.ts?raw'
import * as todosModule from './presets/todos.ts'
import todos from './presets/todos.ts?raw'

export interface Preset {
  readonly name: string
  readonly title: string
  /** The source shown in the editor. */
  readonly code: string
  /** The same module compiled into the page: an unedited preset runs without the in-browser transpiler. */
  readonly schema: Schema
}

/** Schemas to start from; each is also a real module in presets/, type-checked with the repo. */
export const PRESETS: readonly Preset[] = [
  { name: 'todos', title: 'Todos', code: todos, schema: todosModule.schema },
  { name: 'chat', title: 'Chat', code: chat, schema: chatModule.schema },
  { name: 'issues', title: 'Issue tracker', code: issues, schema: issuesModule.schema },
]
