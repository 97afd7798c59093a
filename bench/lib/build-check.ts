import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The source files of packages/server whose compiled output in dist/ is missing or older than the
 * source. The Tessera target runs the compiled build, so a stale one would measure old code.
 */
export function staleServerBuild(): string[] {
  return staleBuild('server')
}

/** The same for any package under packages/ (`server`, `client`, `verify`). */
export function staleBuild(pkg: string): string[] {
  const dir = fileURLToPath(new URL(`../../packages/${pkg}/`, import.meta.url))
  const src = join(dir, 'src')
  const stale: string[] = []
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        const out = join(dir, 'dist', relative(src, p)).replace(/\.ts$/, '.js')
        if (!existsSync(out) || statSync(out).mtimeMs < statSync(p).mtimeMs)
          stale.push(relative(dir, p))
      }
    }
  }
  walk(src)
  return stale
}
