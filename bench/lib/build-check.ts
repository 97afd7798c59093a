import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const serverDir = fileURLToPath(new URL('../../packages/server/', import.meta.url))

/**
 * The source files of packages/server whose compiled output in dist/ is missing or older than the
 * source. The Tessera target runs the compiled build, so a stale one would measure old code.
 */
export function staleServerBuild(): string[] {
  const src = join(serverDir, 'src')
  const stale: string[] = []
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        const out = join(serverDir, 'dist', relative(src, p)).replace(/\.ts$/, '.js')
        if (!existsSync(out) || statSync(out).mtimeMs < statSync(p).mtimeMs)
          stale.push(relative(serverDir, p))
      }
    }
  }
  walk(src)
  return stale
}
