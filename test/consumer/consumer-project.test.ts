import { execFile, spawn, type ChildProcess } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pack, publishedPackages, ROOT } from '../../scripts/lib/packages.js'

const run = promisify(execFile)
const PROJECT_FILES = join(import.meta.dirname, 'project')
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

/**
 * "Done when" of the packaging work: a fresh project installs the packed tarballs (as npm would
 * publish them) and nothing else of the repository, compiles against their types with
 * `lib: ["es2022"]` and `skipLibCheck: false`, and runs on Node against a server started from the
 * installed `tessera` bin.
 *
 * The install is offline (`npm install --offline`): the tarballs' dependencies come from npm's
 * cache, which the repository's own `npm ci` filled. Install scripts are skipped, since the one
 * that matters (better-sqlite3's) would download a prebuilt binary or compile SQLite; the
 * workspace's binary of the same pinned better-sqlite3 version, built for this same Node, is
 * copied in instead (checked below), which is what that script would have produced.
 */
describe('a fresh consumer project installs the tarballs, compiles and runs', () => {
  let dir: string
  let dev: ChildProcess | undefined

  beforeAll(async () => {
    await run('npm', ['run', 'build', '--silent'], { cwd: ROOT })
    dir = mkdtempSync(join(tmpdir(), 'tessera-consumer-'))
    const tarballs = join(dir, 'tarballs')
    mkdirSync(tarballs)
    const deps: Record<string, string> = {}
    for (const pkg of publishedPackages()) {
      const { tarball } = await pack(pkg, tarballs)
      deps[pkg.name] = 'file:' + tarball
    }
    const app = join(dir, 'app')
    mkdirSync(app)
    const nodeTypes = readJson(join(ROOT, 'node_modules', '@types', 'node', 'package.json'))
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({
        name: 'consumer',
        private: true,
        type: 'module',
        dependencies: deps,
        devDependencies: { '@types/node': nodeTypes.version },
      }),
    )
    for (const f of ['app.ts', 'mobile.ts', 'tsconfig.json', 'tsconfig.mobile.json']) {
      copyFileSync(join(PROJECT_FILES, f), join(app, f))
    }
    await run(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
      ],
      { cwd: app, maxBuffer: 16 * 1024 * 1024 },
    )
    const ours = join(ROOT, 'node_modules', 'better-sqlite3')
    const theirs = join(app, 'node_modules', 'better-sqlite3')
    expect(readJson(join(theirs, 'package.json')).version).toBe(
      readJson(join(ours, 'package.json')).version,
    )
    mkdirSync(join(theirs, 'build', 'Release'), { recursive: true })
    copyFileSync(
      join(ours, 'build', 'Release', 'better_sqlite3.node'),
      join(theirs, 'build', 'Release', 'better_sqlite3.node'),
    )
  }, 600_000)

  afterAll(() => {
    dev?.kill('SIGTERM')
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('the installed packages are the tarballs, without the repository around them', () => {
    const app = join(dir, 'app')
    for (const pkg of publishedPackages()) {
      const installed = readJson(join(app, 'node_modules', pkg.name, 'package.json'))
      expect(installed.version).toBe(pkg.manifest.version)
    }
    // The server's dependency on @tessera/verify is met by the verify tarball, not a registry copy.
    expect(() =>
      readFileSync(join(app, 'node_modules', '@tessera', 'server', 'node_modules', '@tessera')),
    ).toThrow(/ENOENT/)
  })

  it('a Node app using the client and verify compiles with lib es2022 and skipLibCheck false', async () => {
    const out = await tsc(join(dir, 'app'), 'tsconfig.json')
    // First what the app and @tessera/verify's declarations say, then the whole compile.
    expect(errorsOutside(out.output, '@tessera/client')).toEqual([])
    expect(out).toEqual({ code: 0, output: '' })
  }, 120_000)

  it('a React Native style file compiles against the client with no DOM and no Node types', async () => {
    const out = await tsc(join(dir, 'app'), 'tsconfig.mobile.json')
    expect(out).toEqual({ code: 0, output: '' })
  }, 120_000)

  it('the app signs in to `tessera dev` from the installed bin, gets and verifies a token per API, signs out', async () => {
    const app = join(dir, 'app')
    // The JavaScript the compile above emitted (tsc emits it even when it reports errors).
    if (!existsSync(join(app, 'out', 'app.js'))) await tsc(app, 'tsconfig.json')
    dev = spawn(
      process.execPath,
      [join(app, 'node_modules', '.bin', 'tessera'), 'dev', '--port', '0'],
      {
        cwd: app,
        env: { ...process.env, TESSERA_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    const announced = await announcement(dev)
    const audiences = announced.getAll('audience')
    // The dev server's three demo APIs (orders, billing, analytics).
    expect(audiences).toHaveLength(3)
    // The tarball ships the playground's built scripts: the client as one module, and the page's.
    for (const path of ['/playground/tessera-client.js', '/playground/app.js']) {
      const res = await fetch(announced.get('issuer')! + path)
      expect(res.status).toBe(200)
      expect(await res.text()).toContain('createTesseraClient')
    }
    const { stdout } = await run(process.execPath, [join(app, 'out', 'app.js')], {
      cwd: app,
      env: {
        ...process.env,
        TESSERA_ISSUER: announced.get('issuer')!,
        TESSERA_AUDIENCES: audiences.join(' '),
        TESSERA_USERNAME: announced.get('username')!,
        TESSERA_PASSWORD: announced.get('password')!,
      },
    })
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!)
    expect(result.status).toBe('signed-in')
    expect(result.user).toMatch(/\S/)
    expect(result.tokens).toEqual(
      audiences.map((audience) => ({
        audience,
        aud: audience,
        sub: result.user,
        scopes: expect.any(Array),
      })),
    )
    expect(result.crossAudience).toBe('wrong_audience')
    expect(result.afterSignOut).toBe('login_required')
    expect(result.statusAfterSignOut).toBe('signed-out')
  }, 120_000)
})

/** The compiler's error lines that are not about the declarations of package `name`. */
function errorsOutside(output: string, name: string): string[] {
  return output
    .split('\n')
    .filter((l) => l.includes('error TS') && !l.startsWith(`node_modules/${name}/`))
}

function readJson(file: string): Record<string, any> {
  return JSON.parse(readFileSync(file, 'utf8'))
}

async function tsc(cwd: string, project: string): Promise<{ code: number; output: string }> {
  return run(process.execPath, [TSC, '-p', project, '--pretty', 'false'], { cwd }).then(
    (r) => ({ code: 0, output: r.stdout.trim() }),
    (e: { code?: number; stdout?: string }) => ({
      code: e.code ?? 1,
      output: (e.stdout ?? '').trim(),
    }),
  )
}

/** The `key: value` lines `tessera dev` prints once it listens. */
function announcement(child: ChildProcess): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    const lines = new URLSearchParams()
    const rl = createInterface({ input: child.stdout! })
    child.once('exit', (code) => reject(new Error(`tessera dev exited with ${code}`)))
    rl.on('line', (line) => {
      const m = /^([a-z_]+): (.*)$/.exec(line)
      if (m) lines.append(m[1]!, m[2]!)
      if (m?.[1] === 'data') resolve(lines)
    })
  })
}
