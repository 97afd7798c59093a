/**
 * `npm run check:packages`: packs every published workspace as `npm publish` would and checks the
 * tarballs themselves (not the working tree):
 *
 * - publint (strict: warnings fail too);
 * - Are the Types Wrong, ignoring only `cjs-resolves-to-esm` (the packages are ESM-only on purpose:
 *   `require()` of them needs Node's require(esm) or a transform; see the package READMEs);
 * - every path an `exports` condition, `main`, `types`, `typesVersions` or `bin` names is in the
 *   tarball (publint does not look at custom conditions such as `@tessera/source`);
 * - no `.tsbuildinfo`; every source of every source map is inlined (`sourcesContent`) or shipped;
 * - a `LICENSE` file.
 *
 * Exits 1 with the findings when one fails. Run `npm run build` first (the npm script does).
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, posix } from 'node:path'
import { promisify } from 'node:util'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'
import { pack, publishedPackages, ROOT } from './lib/packages.js'

const run = promisify(execFile)

/** Every file path named by the manifest's entry-point fields, without a leading `./`. */
function namedPaths(manifest: Record<string, unknown>): string[] {
  const out: string[] = []
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v)
    else if (Array.isArray(v)) v.forEach(walk)
    else if (v && typeof v === 'object') Object.values(v).forEach(walk)
  }
  walk(manifest.exports)
  walk(manifest.main)
  walk(manifest.types)
  walk(manifest.typesVersions)
  walk(manifest.bin)
  return out.map((p) => p.replace(/^\.\//, ''))
}

/**
 * A source map is useful only when each of its sources can be read: inlined (`sourcesContent`,
 * as the JavaScript maps are) or a file the tarball ships (the declaration maps point at `src`).
 */
function sourceMapProblems(dir: string, files: string[]): string[] {
  const shipped = new Set(files)
  return files
    .filter((f) => f.endsWith('.map'))
    .flatMap((f) => {
      const map = JSON.parse(readFileSync(join(dir, f), 'utf8')) as {
        sourceRoot?: string
        sources?: string[]
        sourcesContent?: (string | null)[]
      }
      return (map.sources ?? []).flatMap((source, i) => {
        if (typeof map.sourcesContent?.[i] === 'string') return []
        const path = posix.normalize(posix.join(posix.dirname(f), map.sourceRoot ?? '', source))
        return shipped.has(path)
          ? []
          : [`${f}: source ${source} is neither inlined (sourcesContent) nor shipped`]
      })
    })
}

async function checkOne(
  pkg: ReturnType<typeof publishedPackages>[number],
  dest: string,
): Promise<string[]> {
  const { tarball, files } = await pack(pkg, dest)
  const problems: string[] = []
  const unpacked = join(dest, pkg.name.replace('/', '+'))
  rmSync(unpacked, { recursive: true, force: true })
  await run('mkdir', ['-p', unpacked])
  await run('tar', ['-xzf', tarball, '-C', unpacked])
  const dir = join(unpacked, 'package')

  const lint = await publint({ pkgDir: dir, pack: false, strict: true, level: 'warning' })
  for (const m of lint.messages) {
    problems.push(`publint ${m.type} ${m.code}: ${formatMessage(m, lint.pkg, { color: false })}`)
  }

  const attw = await run(
    join(ROOT, 'node_modules', '.bin', 'attw'),
    [tarball, '--ignore-rules', 'cjs-resolves-to-esm', '--format', 'table-flipped', '--no-color'],
    { maxBuffer: 16 * 1024 * 1024 },
  ).then(
    (r) => ({ ok: true, out: r.stdout }),
    (e: { stdout?: string; stderr?: string }) => ({
      ok: false,
      out: (e.stdout ?? '') + (e.stderr ?? ''),
    }),
  )
  if (!attw.ok) problems.push(`attw:\n${attw.out}`)

  const shipped = new Set(files)
  for (const p of namedPaths(pkg.manifest)) {
    if (!shipped.has(p)) problems.push(`package.json names ${p}, which the tarball does not hold`)
  }
  for (const f of files) {
    if (f.endsWith('.tsbuildinfo')) problems.push(`${f}: build state does not belong in a tarball`)
  }
  problems.push(...sourceMapProblems(dir, files))
  if (!files.some((f) => /^LICENSE(\.|$)/.test(f))) problems.push('no LICENSE file')
  return problems
}

const dest = mkdtempSync(join(tmpdir(), 'tessera-pack-'))
let failed = false
try {
  // Names on the command line narrow the check to those packages.
  const only = process.argv.slice(2)
  for (const pkg of publishedPackages().filter((p) => only.length === 0 || only.includes(p.name))) {
    const problems = await checkOne(pkg, dest)
    if (problems.length === 0) {
      console.log(`ok   ${pkg.name}: publint, attw, entry points, source maps, LICENSE`)
    } else {
      failed = true
      console.log(`FAIL ${pkg.name}`)
      for (const p of problems) console.log('  - ' + p.replace(/\n/g, '\n    '))
    }
  }
} finally {
  rmSync(dest, { recursive: true, force: true })
}
if (failed) process.exit(1)
