/**
 * Builds what the `tessera dev` playground serves, into `dist/dev/playground/`:
 *
 * - `tessera-client.js`: `@tessera/client` as one ES module, from the client's built `dist`
 *   (the package as an app installs it), not minified so a developer can read it;
 * - `app.js`: the playground's own script (`playground/app.ts`), which imports
 *   `@tessera/client` like any app; the page's import map points that name at the bundle above.
 *
 * The server never imports client code: it only reads these two files and serves them. They are
 * built here, at the server's build time, and shipped in its tarball, so `@tessera/client` and
 * esbuild are devDependencies of the server (no client-side package depends on the server).
 *
 * `--from-source` bundles the client from its TypeScript sources (the `@tessera/source`
 * condition), as the tests do so that they need no build of the client first.
 */
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), '..')
export const PLAYGROUND_ASSETS = join(PACKAGE, 'dist', 'dev', 'playground')

export async function buildPlayground(o: { fromSource?: boolean } = {}): Promise<string> {
  const conditions = o.fromSource ? ['@tessera/source'] : []
  if (!o.fromSource && !existsSync(join(PACKAGE, '..', 'client', 'dist', 'index.js'))) {
    throw new Error('@tessera/client is not built: run `npm run build` at the repository root')
  }
  const common = {
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions,
    write: false,
    logLevel: 'silent',
    legalComments: 'inline',
  } as const
  const [clientBundle, app] = await Promise.all([
    build({
      ...common,
      stdin: {
        contents: "export * from '@tessera/client'",
        resolveDir: PACKAGE,
        loader: 'js',
      },
    }),
    build({
      ...common,
      entryPoints: [join(PACKAGE, 'playground', 'app.ts')],
      external: ['@tessera/client'],
    }),
  ])
  mkdirSync(PLAYGROUND_ASSETS, { recursive: true })
  // Written beside and renamed over, so a server reading them never sees half a file.
  const put = (name: string, text: string): void => {
    const tmp = join(PLAYGROUND_ASSETS, `.${name}.${process.pid}.tmp`)
    writeFileSync(tmp, text)
    renameSync(tmp, join(PLAYGROUND_ASSETS, name))
  }
  put('tessera-client.js', clientBundle.outputFiles[0]!.text)
  put('app.js', app.outputFiles[0]!.text)
  return PLAYGROUND_ASSETS
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = await buildPlayground({ fromSource: process.argv.includes('--from-source') })
  console.log(`playground: built ${dir}`)
}
