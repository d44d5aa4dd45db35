/**
 * `npm pack` of every published workspace package into one folder: what a user would download.
 * Used by `npm run check:packages` (publint, attw) and test/packages/consumer.test.ts.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export const root = join(import.meta.dirname, '..')

export interface Packed {
  /** `@cairn/core` */
  readonly name: string
  /** Absolute path of the .tgz. */
  readonly tarball: string
  /** Paths inside the tarball, relative to the package root. */
  readonly files: readonly string[]
}

/** The root package.json's workspaces that are published (not `"private": true`), as folders. */
export function publishedWorkspaces(): string[] {
  const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] }
  return workspaces.filter((dir) => {
    const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as { private?: boolean }
    return pkg.private !== true
  })
}

/** Packs the built packages (run `npm run build` first) into `destination`; one npm process for all. */
export function packAll(destination: string): Packed[] {
  const args = ['pack', '--json', '--pack-destination', destination, ...publishedWorkspaces().flatMap((w) => ['-w', w])]
  const out = execFileSync('npm', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  const packs = JSON.parse(out) as { name: string; filename: string; files: { path: string }[] }[]
  return packs.map((p) => ({ name: p.name, tarball: join(destination, p.filename), files: p.files.map((f) => f.path) }))
}
