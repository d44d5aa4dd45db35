import chat from './presets/chat.ts?raw'
import issues from './presets/issues.ts?raw'
import todos from './presets/todos.ts?raw'

export interface Preset {
  readonly name: string
  readonly title: string
  readonly code: string
}

/** Schemas to start from; each is also a real module in presets/, type-checked with the repo. */
export const PRESETS: readonly Preset[] = [
  { name: 'todos', title: 'Todos', code: todos },
  { name: 'chat', title: 'Chat', code: chat },
  { name: 'issues', title: 'Issue tracker', code: issues },
]
