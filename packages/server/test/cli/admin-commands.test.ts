import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { keyStates } from '../../src/bin/keys.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import type { SigningKeyRecord } from '../../src/store/types.js'
import { verifyPassword } from '../../src/users/password.js'
import { runCli, runInProcess, tempDir } from './cli-process.js'

// Child processes start slowly on a small, busy machine (tsx compiles the sources first).
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

let tmp: ReturnType<typeof tempDir>
let config: string
beforeAll(() => {
  tmp = tempDir()
  config = join(tmp.dir, 'tessera.json')
  // Relative database path: resolved against the file's directory.
  writeFileSync(
    config,
    JSON.stringify({
      issuer: 'https://auth.example.test',
      secret: 'admin-test-secret-admin-test-secret-0123456789',
      database: { driver: 'sqlite', file: 'data/tessera.db' },
      jwksMaxAgeSeconds: 600,
      passwordCost: { N: 1024, r: 8, p: 1 },
    }),
  )
})
afterAll(() => tmp.remove())

const dbFile = (): string => join(tmp.dir, 'data', 'tessera.db')

async function withStore<T>(fn: (s: SqliteStore) => Promise<T>): Promise<T> {
  const store = new SqliteStore({ file: dbFile() })
  try {
    return await fn(store)
  } finally {
    await store.close()
  }
}

describe('tessera migrate', () => {
  it('creates the schema in the configured database and exits 0', async () => {
    const r = await runCli(['migrate', '--config', config], { cwd: '/' })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(`migrated: ${dbFile()}\n`)
    expect(await withStore((s) => s.listUsers())).toEqual([])
  })
})

describe('tessera keys', () => {
  it('JWT-17 keys rotate publishes a next key; keys list shows the active and the next one', async () => {
    const rotate = await runCli(['keys', 'rotate', '--config', config], { cwd: tmp.dir })
    expect(rotate.stderr).toBe('')
    expect(rotate.code).toBe(0)
    const newKid = /^kid: (\S+)$/m.exec(rotate.stdout)?.[1]
    expect(newKid).toBeDefined()

    const list = await runCli(['keys', 'list', '--json'], { cwd: tmp.dir })
    expect(list.code).toBe(0)
    const keys = JSON.parse(list.stdout) as {
      kid: string
      alg: string
      state: string
      activatesAt: number
      retiresAt: number | null
      expiresAt: number | null
    }[]
    expect(keys).toHaveLength(2)
    const [active, next] = keys as [(typeof keys)[0], (typeof keys)[0]]
    expect(active.state).toBe('active')
    expect(next.state).toBe('next')
    expect(next.kid).toBe(newKid)
    expect(active.alg).toBe('ES256')
    // Published now, signs after one JWKS cache lifetime (600 s here); the old key stops then and
    // stays published until its longest token (the 1 h ID token) has expired, plus a minute.
    expect(next.activatesAt - Date.now()).toBeGreaterThan(590_000)
    expect(next.activatesAt - Date.now()).toBeLessThanOrEqual(600_000)
    expect(active.retiresAt).toBe(next.activatesAt)
    expect(active.expiresAt).toBe(next.activatesAt + (3600 + 60) * 1000)

    const table = await runInProcess(['keys', 'list', '--config', config], { cwd: '/' })
    const lines = table.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^KID\s+ALG\s+STATE\s+ACTIVATES\s+RETIRES\s+EXPIRES$/)
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(1, 3))).toEqual([
      ['ES256', 'active'],
      ['ES256', 'next'],
    ])
  })

  it('keys rotate --alg must name a supported algorithm', async () => {
    const r = await runInProcess(['keys', 'rotate', '--alg', 'HS256', '--config', config], {
      cwd: '/',
    })
    expect(r.code).toBe(64)
    expect(r.stderr).toMatch(/^tessera: --alg must be one of ES256, EdDSA, RS256\n/)
  })

  it('key states follow time: next, then active with the old one retired, then expired', () => {
    const key = (
      kid: string,
      activatesAt: number,
      retiredAt: number | null,
      expiresAt: number | null,
    ) => ({ kid, activatesAt, retiredAt, expiresAt }) as SigningKeyRecord
    const keys = [key('a', 0, 1000, 5000), key('b', 1000, null, null)]
    const at = (now: number) => Object.fromEntries(keyStates(keys, now))
    expect(at(999)).toEqual({ a: 'active', b: 'next' })
    expect(at(1000)).toEqual({ a: 'retired', b: 'active' })
    expect(at(5000)).toEqual({ a: 'expired', b: 'active' })
  })
})

describe('tessera users', () => {
  it('users create reads the password from stdin and stores only its hash', async () => {
    const password = 'correct horse battery staple'
    const r = await runCli(
      ['users', 'create', '--username', 'ada', '--email', 'ada@example.test', '--name', 'Ada L'],
      { cwd: tmp.dir, stdin: password + '\n' },
    )
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const id = /^id: (usr_\S+)$/m.exec(r.stdout)?.[1]
    expect(id).toBeDefined()
    expect(r.stdout).not.toContain(password)
    const user = await withStore((s) => s.getUserByUsername('ada'))
    expect(user).toMatchObject({ id, username: 'ada', email: 'ada@example.test', name: 'Ada L' })
    expect(user!.passwordHash).not.toContain(password)
    expect(await verifyPassword(password, user!.passwordHash)).toBe(true)
    expect(readFileSync(dbFile()).includes(Buffer.from(password))).toBe(false)
  })

  it('--password-stdin takes the first line only', async () => {
    const r = await runInProcess(
      ['users', 'create', '--username', 'bob', '--password-stdin', '--config', config],
      { cwd: '/', stdin: 'first-line-password\nsecond line\n' },
    )
    expect(r.code).toBe(0)
    const user = await withStore((s) => s.getUserByUsername('bob'))
    expect(await verifyPassword('first-line-password', user!.passwordHash)).toBe(true)
  })

  it('a password on the command line is refused without echoing it', async () => {
    for (const args of [['--password', 'hunter2hunter2'], ['--password=hunter2hunter2']]) {
      const r = await runInProcess(['users', 'create', '--username', 'eve', ...args], {
        cwd: tmp.dir,
      })
      expect(r.code).toBe(64)
      expect(r.stderr).toMatch(/passwords are never taken from the command line/)
      expect(r.stderr + r.stdout).not.toContain('hunter2')
    }
    // Nor as a stray argument.
    const stray = await runInProcess(['users', 'create', '--username', 'eve', 'hunter2hunter2'], {
      cwd: tmp.dir,
    })
    expect(stray.code).toBe(64)
    expect(stray.stderr).toBe(
      'tessera: unexpected argument: this command takes options only\nRun tessera --help for usage.\n',
    )
    expect(await withStore((s) => s.getUserByUsername('eve'))).toBeUndefined()
  })

  it('refused input exits 65: a taken username, a short password, no password', async () => {
    const cases: [string, string, number, RegExp][] = [
      ['ada', 'another long password', 65, /username is taken/],
      ['carol', 'short', 65, /password must be 8 to 1024 characters/],
      ['carol', '', 64, /no password on stdin/],
    ]
    for (const [username, stdin, code, message] of cases) {
      const r = await runInProcess(['users', 'create', '--username', username], {
        cwd: tmp.dir,
        stdin,
      })
      expect(r.code).toBe(code)
      expect(r.stderr).toMatch(message)
    }
    expect(await withStore((s) => s.getUserByUsername('carol'))).toBeUndefined()
  })

  it('users list shows the users without any password material', async () => {
    const r = await runCli(['users', 'list', '--config', config], { cwd: '/' })
    expect(r.code).toBe(0)
    const lines = r.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^ID\s+USERNAME\s+EMAIL\s+NAME\s+DISABLED\s+CREATED$/)
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/)[1])).toEqual(
      expect.arrayContaining(['ada', 'bob']),
    )
    const json = await runInProcess(['users', 'list', '--json', '--config', config], { cwd: '/' })
    const users = JSON.parse(json.stdout) as Record<string, unknown>[]
    expect(users.map((u) => u.username).sort()).toEqual(['ada', 'bob'])
    expect(json.stdout).not.toMatch(/scrypt|password/i)
  })
})

describe('tessera help and version', () => {
  it('--help lists every command; --version prints the package version', async () => {
    const help = await runInProcess(['--help'], { cwd: tmp.dir })
    expect(help.code).toBe(0)
    for (const c of [
      'dev',
      'start',
      'migrate',
      'keys rotate',
      'keys list',
      'users create',
      'users list',
    ]) {
      expect(help.stdout).toContain(`  ${c} `)
    }
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string }
    const v = await runCli(['--version'], { cwd: tmp.dir })
    expect(v).toEqual({ code: 0, stdout: pkg.version + '\n', stderr: '' })
    const bare = await runInProcess([], { cwd: tmp.dir })
    expect(bare).toEqual({ code: 64, stdout: '', stderr: help.stdout })
    const sub = await runInProcess(['users', 'create', '--help'], { cwd: tmp.dir })
    expect(sub.stdout).toMatch(/^Usage: tessera users create --username U/)
  })

  it('usage errors exit 64: unknown command, unknown option, missing sub-command', async () => {
    for (const args of [['serve'], ['start', '--prot', '1'], ['keys'], ['users', 'create']]) {
      const r = await runInProcess(args, { cwd: tmp.dir })
      expect(r.code).toBe(64)
      expect(r.stderr).toMatch(/^tessera: .+\nRun tessera --help for usage\.\n$/)
    }
  })
})
