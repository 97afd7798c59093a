/**
 * `npm run check:size`: the size budget of `@tessera/client` in a browser app. Each entry below is
 * what an app imports; it is bundled from the built package (`dist`, as a consumer's bundler sees
 * it) with esbuild (minified, tree-shaken, ES2022, browser), gzipped at level 9, and compared with
 * its budget. 1 kB is 1,000 bytes. Prints the figures; exits 1 when one is over its ceiling.
 *
 * Each set has two numbers. `goal` is the budget the product set (issue 16: 13 kB and 11 kB); the
 * client is over it today (16.66 / 14.76 kB), and the script prints by how much. `ceiling` is a
 * ratchet a little above today's size: CI fails when a change makes the client bigger than that,
 * so it can only shrink towards the goal. Lower the ceiling whenever the client gets smaller; once
 * a goal is met, its ceiling becomes the goal.
 * `npm run check:size -- --modules` also lists each set's minified bytes per module of `dist`,
 * largest first (what to aim at).
 */
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { join } from 'node:path'
import { ROOT } from './lib/packages.js'

interface Budget {
  name: string
  imports: string[]
  /** The budget to reach, in gzipped bytes (printed: met or not). */
  goal: number
  /** Gzipped bytes at most today (CI fails above it): a ratchet towards `goal`. */
  ceiling: number
}

export const BUDGETS: Budget[] = [
  {
    name: 'typical browser app',
    imports: [
      'createTesseraClient',
      'indexedDbStorage',
      'browserTabSync',
      'browserLifecycle',
      'attachAxios',
    ],
    goal: 13_000,
    ceiling: 16_700,
  },
  {
    name: 'client + memory storage',
    imports: ['createTesseraClient', 'memoryStorage'],
    goal: 11_000,
    ceiling: 14_800,
  },
]

export async function measure(
  imports: string[],
): Promise<{ minified: number; gzip: number; modules: [path: string, bytes: number][] }> {
  const out = await build({
    stdin: {
      contents: `export { ${imports.join(', ')} } from '@tessera/client'`,
      resolveDir: join(ROOT, 'packages', 'client'),
      loader: 'js',
    },
    bundle: true,
    minify: true,
    treeShaking: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    // The published entry points only: no `@tessera/source` condition.
    conditions: [],
    write: false,
    metafile: true,
    logLevel: 'silent',
  })
  const code = out.outputFiles[0]!.contents
  const inputs = Object.values(out.metafile.outputs)[0]?.inputs ?? {}
  const modules = Object.entries(inputs)
    .map(([path, i]): [string, number] => [
      path.replace(/^.*packages\/client\/dist\//, ''),
      i.bytesInOutput,
    ])
    .filter(([, bytes]) => bytes > 0)
    .sort((a, b) => b[1] - a[1])
  return { minified: code.byteLength, gzip: gzipSync(code, { level: 9 }).byteLength, modules }
}

const kB = (n: number): string => (n / 1000).toFixed(2) + ' kB'

if (import.meta.url === `file://${process.argv[1]}`) {
  let over = false
  for (const b of BUDGETS) {
    const { minified, gzip, modules } = await measure(b.imports)
    const ok = gzip <= b.ceiling
    over ||= !ok
    const goal =
      gzip <= b.goal
        ? `goal ${kB(b.goal)}: met`
        : `goal ${kB(b.goal)}: NOT met, ${kB(gzip - b.goal)} over`
    console.log(
      `${ok ? 'ok  ' : 'OVER'} @tessera/client, ${b.name}: ${kB(gzip)} gzip ` +
        `(ceiling ${kB(b.ceiling)}; ${goal}), ${kB(minified)} minified  [${b.imports.join(', ')}]`,
    )
    if (process.argv.includes('--modules')) {
      for (const [path, bytes] of modules) console.log(`  ${String(bytes).padStart(6)}  ${path}`)
    }
  }
  if (over) process.exit(1)
}
