/**
 * `npm run check:packages`: packs every package and runs the ecosystem's own linters on the
 * tarballs: publint (strict: warnings and suggestions count) and @arethetypeswrong/cli (profile
 * esm-only: the packages are ESM-only on purpose, so CommonJS `require` resolution is not checked).
 * Prints one line per package; any finding is printed in full and fails the run. Needs a build.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'
import { packAll, publishedWorkspaces, root } from './pack.ts'

const run = promisify(execFile)
const attw = join(root, 'node_modules', '.bin', 'attw')

const unbuilt = publishedWorkspaces().filter((w) => !existsSync(join(root, w, 'dist')))
if (unbuilt.length > 0) {
  console.error(`check:packages: no dist/ in ${unbuilt.join(', ')}: run \`npm run build\` first`)
  process.exit(1)
}

const dir = mkdtempSync(join(tmpdir(), 'cairn-check-'))
let failed = false
try {
  const packed = packAll(dir)
  const results = await Promise.all(
    packed.map(async (p) => {
      const tarball = readFileSync(p.tarball)
      const lint = await publint({
        pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) },
        strict: true,
      })
      const publintFindings = lint.messages.map((m) => `  publint ${m.type}: ${formatMessage(m, lint.pkg) ?? m.code}`)
      const types = await run(attw, [p.tarball, '--profile', 'esm-only', '--format', 'ascii', '--no-emoji', '--no-color']).then(
        () => [],
        (e: { stdout?: string; message: string }) => [`  attw:\n${e.stdout || e.message}`],
      )
      return { name: p.name, findings: [...publintFindings, ...types] }
    }),
  )
  for (const r of results) {
    console.log(
      `${r.findings.length === 0 ? 'ok  ' : 'FAIL'} ${r.name}: publint, attw${r.findings.length === 0 ? ': nothing reported' : ''}`,
    )
    for (const f of r.findings) console.log(f)
    failed ||= r.findings.length > 0
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
process.exitCode = failed ? 1 : 0
