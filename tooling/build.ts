/**
 * `npm run build`: every published workspace into its `dist/` with plain tsc, in dependency order
 * (`tsc -b` follows each tsconfig.build.json's references). dist/ is emptied first: tsc never
 * deletes the output of a source file that moved or was removed, and npm pack would ship it.
 */
import { execFileSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { publishedWorkspaces, root } from './pack.ts'

const workspaces = publishedWorkspaces()
for (const w of workspaces) rmSync(join(root, w, 'dist'), { recursive: true, force: true })
const tsc = join(root, 'node_modules', '.bin', 'tsc')
execFileSync(tsc, ['-b', ...workspaces.map((w) => join(w, 'tsconfig.build.json'))], { cwd: root, stdio: 'inherit' })
