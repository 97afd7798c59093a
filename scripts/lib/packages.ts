import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The repository root (this file is scripts/lib/packages.ts). */
export const ROOT = resolve(import.meta.dirname, '..', '..')

export interface WorkspacePackage {
  name: string
  dir: string
  manifest: Record<string, unknown>
}

/** The workspaces under packages/ that are published (not `private`), by directory name. */
export function publishedPackages(): WorkspacePackage[] {
  const base = join(ROOT, 'packages')
  return readdirSync(base, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => join(base, d.name))
    .flatMap((dir) => {
      let manifest: Record<string, unknown>
      try {
        manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<
          string,
          unknown
        >
      } catch {
        return []
      }
      if (manifest.private === true || typeof manifest.name !== 'string') return []
      return [{ name: manifest.name, dir, manifest }]
    })
    .sort((a, b) => a.name.localeCompare(b.name))
}

/**
 * `npm pack` of one workspace into `dest`, as `npm publish` would make it (lifecycle scripts
 * included). Returns the tarball's path and the files it holds. The packages must be built.
 */
export async function pack(
  pkg: WorkspacePackage,
  dest: string,
): Promise<{ tarball: string; files: string[] }> {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dest], {
    cwd: pkg.dir,
    maxBuffer: 64 * 1024 * 1024,
  })
  // npm prints lifecycle output before the JSON; the JSON is the last top-level array.
  const json = stdout.slice(stdout.indexOf('[\n'))
  const [info] = JSON.parse(json) as { filename: string; files: { path: string }[] }[]
  if (!info) throw new Error(`npm pack printed no result for ${pkg.name}`)
  return { tarball: join(dest, info.filename), files: info.files.map((f) => f.path) }
}
