import type { Schema } from '@cairn/core'
import chat from './presets/chat.ts?raw'
import issues from './presets/issues.ts?raw'
import todos from './presets/todos.ts?raw'
import { PRESET_SCHEMAS } from './schema-module.ts'

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
  { name: 'todos', title: 'Todos', code: todos, schema: PRESET_SCHEMAS.todos! },
  { name: 'chat', title: 'Chat', code: chat, schema: PRESET_SCHEMAS.chat! },
  { name: 'issues', title: 'Issue tracker', code: issues, schema: PRESET_SCHEMAS.issues! },
]
