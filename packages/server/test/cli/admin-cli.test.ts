import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { hashAdminKey } from '../../src/admin/auth/admin-key-hash.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import type { SessionRecord } from '../../src/store/types.js'
import { verifyPassword } from '../../src/users/password.js'
import { browserSessionRecord, codeRecord, sessionRecord } from '../store/records.js'
import { idsAsPositionals } from '../../src/bin/cli.js'
import { cleanEnv, runCli, runInProcess, tempDir } from './cli-process.js'

// Child processes start slowly on a small, busy machine (tsx compiles the sources first).
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

let tmp: ReturnType<typeof tempDir>
let config: string
beforeAll(() => {
  tmp = tempDir()
  config = join(tmp.dir, 'tessera.json')
  writeFileSync(
    config,
    JSON.stringify({
      issuer: 'https://auth.example.test',
      secret: 'admin-cli-secret-admin-cli-secret-0123456789',
      database: { driver: 'sqlite', file: 'data/tessera.db' },
      passwordCost: { N: 1024, r: 8, p: 1 },
    }),
  )
})
afterAll(() => tmp.remove())

const dbFile = (): string => join(tmp.dir, 'data', 'tessera.db')
const env = cleanEnv({ USER: 'ops-alice' })
const ACTOR = { kind: 'cli', id: 'cli', name: 'ops-alice', via: 'cli' }

async function withStore<T>(fn: (s: SqliteStore) => Promise<T>): Promise<T> {
  const store = new SqliteStore({ file: dbFile() })
  try {
    return await fn(store)
  } finally {
    await store.close()
  }
}

/** `tessera <args> --config <file>` in this process, as the operator `ops-alice`. */
const cli = (args: string[], stdin?: string) =>
  runInProcess([...args, '--config', config], {
    cwd: '/',
    env,
    ...(stdin !== undefined ? { stdin } : {}),
  })

/** `key: value` lines of an output. */
const lines = (out: string) =>
  Object.fromEntries(
    out
      .trimEnd()
      .split('\n')
      .map((l) => l.split(': ')),
  )

/** A user created by the CLI, signed in with two live sessions, an SSO session and an open code. */
async function userWithSessions(username: string) {
  const r = await cli(['users', 'create', '--username', username], 'a long enough password\n')
  expect(r.code).toBe(0)
  const id = lines(r.stdout).id as string
  return withStore(async (store) => {
    const bs = browserSessionRecord(id)
    await store.createBrowserSession(bs)
    const sessions: SessionRecord[] = [
      sessionRecord({ userId: id, browserSessionId: bs.id }),
      sessionRecord({ userId: id, clientId: 'native-app', browserSessionId: null }),
    ]
    for (const s of sessions) await store.createSession(s)
    const code = codeRecord({ userId: id })
    await store.createCode(code)
    return { id, username, bs, sessions, code }
  })
}

async function expectRevoked(u: Awaited<ReturnType<typeof userWithSessions>>, reason: string) {
  await withStore(async (store) => {
    for (const s of u.sessions) {
      expect(await store.getSession(s.id)).toMatchObject({ state: 'revoked', reason })
      const [ev] = await store.listEvents({ sessionId: s.id, type: 'session_revoked' })
      expect(ev).toMatchObject({
        userId: u.id,
        clientId: s.clientId,
        data: { reason, actor: ACTOR },
      })
    }
    expect((await store.getBrowserSession(u.bs.id))?.endedAt).not.toBeNull()
    expect((await store.getCode(u.code.codeHash))?.consumedAt).not.toBeNull()
  })
}

describe('tessera users (SES-05, SES-06 from the CLI)', () => {
  it('users disable <username> revokes every session with events naming the operator; again is 65', async () => {
    const u = await userWithSessions('dora')
    const r = await cli(['users', 'disable', 'dora'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(lines(r.stdout)).toStrictEqual({
      id: u.id,
      username: 'dora',
      disabled: 'yes',
      sessions_revoked: '2',
      browser_sessions_ended: '1',
    })
    await expectRevoked(u, 'user_disabled')
    const [action] = await withStore((s) => s.listEvents({ type: 'user_disabled', userId: u.id }))
    expect(action?.data).toStrictEqual({ actor: ACTOR })

    const again = await cli(['users', 'disable', u.id])
    expect(again).toStrictEqual({
      code: 65,
      stdout: '',
      stderr: `tessera: user ${u.id} is already disabled\n`,
    })
    const enabled = await cli(['users', 'enable', 'dora'])
    expect(enabled.code).toBe(0)
    expect(lines(enabled.stdout).disabled).toBe('no')
    expect((await withStore((s) => s.getUser(u.id)))?.disabled).toBe(false)
  })

  it('users reset-password reads stdin, never the command line, and revokes every session', async () => {
    const u = await userWithSessions('eric')
    const r = await cli(['users', 'reset-password', 'eric'], 'the new password 42\n')
    expect(r.code).toBe(0)
    expect(r.stdout).not.toContain('the new password')
    expect(lines(r.stdout)).toMatchObject({ id: u.id, sessions_revoked: '2' })
    await expectRevoked(u, 'password_change')
    const user = await withStore((s) => s.getUser(u.id))
    expect(await verifyPassword('the new password 42', user!.passwordHash)).toBe(true)
    const short = await cli(['users', 'reset-password', 'eric'], 'short\n')
    expect(short).toStrictEqual({
      code: 65,
      stdout: '',
      stderr: 'tessera: password must be 8 to 1024 characters\n',
    })
    const onArgs = await cli(['users', 'reset-password', 'eric', '--password', 'hunter2hunter2'])
    expect(onArgs.code).toBe(64)
    expect(onArgs.stderr + onArgs.stdout).not.toContain('hunter2')
  })

  it('users delete needs --yes, then deletes after revoking everything', async () => {
    const u = await userWithSessions('fred')
    const noYes = await cli(['users', 'delete', 'fred'])
    expect(noYes.code).toBe(64)
    expect(noYes.stderr).toMatch(
      /^tessera: users delete needs --yes: the user cannot be restored\n/,
    )
    expect(await withStore((s) => s.getUser(u.id))).toBeDefined()
    const r = await cli(['users', 'delete', 'fred', '--yes'])
    expect(r.code).toBe(0)
    expect(lines(r.stdout)).toStrictEqual({
      id: u.id,
      username: 'fred',
      deleted: 'yes',
      sessions_revoked: '2',
      browser_sessions_ended: '1',
    })
    await expectRevoked(u, 'user_deleted')
    expect(await withStore((s) => s.getUser(u.id))).toBeUndefined()
    const gone = await cli(['users', 'delete', 'fred', '--yes'])
    expect(gone).toStrictEqual({ code: 65, stdout: '', stderr: 'tessera: no user fred\n' })
  })

  it('positional arguments: missing is a usage error; extra ones are refused without being echoed', async () => {
    const missing = await cli(['users', 'disable'])
    expect(missing.code).toBe(64)
    expect(missing.stderr).toMatch(/^tessera: users disable needs <user>\n/)
    const extra = await cli(['users', 'disable', 'dora', 'sekrit-value'])
    expect(extra.code).toBe(64)
    expect(extra.stderr).toMatch(/^tessera: unexpected argument: users disable takes 1\n/)
    expect(extra.stderr).not.toContain('sekrit')
  })

  it('users list --search and pages: the next cursor goes to stderr, stdout stays JSON', async () => {
    expect((await cli(['users', 'create', '--username', 'hank'], 'hank password 1\n')).code).toBe(0)
    const first = await cli(['users', 'list', '--limit', '2', '--json'])
    expect(first.code).toBe(0)
    const page1 = JSON.parse(first.stdout) as { username: string }[]
    expect(page1.map((u) => u.username)).toStrictEqual(['dora', 'eric'])
    const cursor = /^more: run again with --cursor (\S+)$/m.exec(first.stderr)?.[1]
    expect(cursor).toBeDefined()
    const second = await cli(['users', 'list', '--limit', '2', '--json', '--cursor', cursor!])
    expect(
      (JSON.parse(second.stdout) as { username: string }[]).map((u) => u.username),
    ).toStrictEqual(['hank'])
    expect(second.stderr).toBe('')
    const search = await cli(['users', 'list', '--search', 'ER', '--json'])
    expect(
      (JSON.parse(search.stdout) as { username: string }[]).map((u) => u.username),
    ).toStrictEqual(['eric'])
    const bad = await cli(['users', 'list', '--cursor', 'garbage'])
    expect(bad).toStrictEqual({
      code: 65,
      stdout: '',
      stderr: 'tessera: cursor is not a cursor of this listing\n',
    })
  })
})

describe('tessera sessions', () => {
  let u: Awaited<ReturnType<typeof userWithSessions>>
  beforeAll(async () => {
    u = await userWithSessions('gina')
  })

  it('sessions list filters by user (name or id), client and state, as a table or JSON', async () => {
    const table = await cli(['sessions', 'list', '--user', 'gina'])
    expect(table.code).toBe(0)
    const rows = table.stdout.trimEnd().split('\n')
    expect(rows[0]).toMatch(/^ID\s+USER\s+CLIENT\s+STATE\s+REASON\s+CREATED\s+LAST ACTIVE\s+ENDED$/)
    expect(rows).toHaveLength(3)
    const json = await cli([
      'sessions',
      'list',
      '--user',
      u.id,
      '--client',
      'native-app',
      '--state',
      'active',
      '--json',
    ])
    const listed = JSON.parse(json.stdout) as { id: string; state: string }[]
    expect(listed.map((s) => s.id)).toStrictEqual([u.sessions[1]!.id])
    expect(json.stdout).not.toContain(u.sessions[1]!.salt)
    const bad = await cli(['sessions', 'list', '--state', 'zombie'])
    expect(bad.code).toBe(64)
    expect(bad.stderr).toMatch(
      /^tessera: --state must be one of active, pending, ended, expired, abandoned, revoked, removed, replaced\n/,
    )
    const nobody = await cli(['sessions', 'list', '--user', 'nobody'])
    expect(nobody).toStrictEqual({ code: 65, stdout: '', stderr: 'tessera: no user nobody\n' })
  })

  it('sessions revoke <id> ends one session with reason admin; a second time is 65', async () => {
    const [one, two] = u.sessions as [SessionRecord, SessionRecord]
    const r = await cli(['sessions', 'revoke', one.id])
    expect(r.code).toBe(0)
    expect(lines(r.stdout)).toMatchObject({ id: one.id, state: 'revoked', reason: 'admin' })
    await withStore(async (store) => {
      expect(await store.getSession(one.id)).toMatchObject({ state: 'revoked', reason: 'admin' })
      expect((await store.getSession(two.id))?.state).toBe('active')
      const [ev] = await store.listEvents({ sessionId: one.id })
      expect(ev).toMatchObject({ type: 'session_revoked', data: { reason: 'admin', actor: ACTOR } })
    })
    const again = await cli(['sessions', 'revoke', one.id])
    expect(again).toStrictEqual({
      code: 65,
      stdout: '',
      stderr: `tessera: session ${one.id} has already ended (revoked)\n`,
    })
  })

  it('sessions revoke-user <user> ends the rest, the SSO session and open codes', async () => {
    const r = await cli(['sessions', 'revoke-user', 'gina'])
    expect(r.code).toBe(0)
    expect(lines(r.stdout)).toStrictEqual({ sessions_revoked: '1', browser_sessions_ended: '1' })
    await withStore(async (store) => {
      expect(await store.getSession(u.sessions[1]!.id)).toMatchObject({
        state: 'revoked',
        reason: 'admin',
      })
      expect((await store.getBrowserSession(u.bs.id))?.endedAt).not.toBeNull()
      expect((await store.getCode(u.code.codeHash))?.consumedAt).not.toBeNull()
      const [ev] = await store.listEvents({ type: 'user_sessions_revoked', userId: u.id })
      expect(ev?.data).toStrictEqual({ actor: ACTOR })
    })
  })
})

describe('tessera events list', () => {
  it('filters by type and user, as JSON or a table; bad options are usage errors', async () => {
    const gina = await withStore((s) => s.getUserByUsername('gina'))
    const r = await cli([
      'events',
      'list',
      '--type',
      'session_revoked',
      '--user',
      gina!.id,
      '--json',
    ])
    expect(r.code).toBe(0)
    const events = JSON.parse(r.stdout) as { type: string; data: { reason: string } }[]
    expect(events.map((e) => e.data.reason)).toStrictEqual(['admin', 'admin'])
    const table = await cli(['events', 'list', '--limit', '3'])
    expect(table.stdout.split('\n')[0]).toMatch(/^AT\s+TYPE\s+USER\s+CLIENT\s+SESSION\s+IP\s+DATA$/)
    expect(table.stdout.trimEnd().split('\n')).toHaveLength(4)
    expect(table.stderr).toMatch(/^more: run again with --cursor \S+\n$/)
    const since = await cli(['events', 'list', '--since', '2999-01-01T00:00:00Z', '--json'])
    expect(JSON.parse(since.stdout)).toStrictEqual([])
    for (const [args, message] of [
      [['--type', 'nope'], /^tessera: --type must be one of sign_in_success, /],
      [
        ['--since', 'last tuesday'],
        /^tessera: --since: must be milliseconds since the epoch or an ISO 8601 time/,
      ],
      [['--limit', '0'], /^tessera: --limit must be a whole number from 1 to 999999\n/],
    ] as const) {
      const bad = await cli(['events', 'list', ...args])
      expect(bad.code).toBe(64)
      expect(bad.stderr).toMatch(message)
    }
  })
})

describe('tessera admin-keys', () => {
  it('create prints the key once and stores only its hash; list never shows it; revoke ends it', async () => {
    const r = await cli(['admin-keys', 'create', '--name', 'ci-bot'])
    expect(r.code).toBe(0)
    const out = lines(r.stdout)
    expect(out.key).toMatch(/^tsa_[A-Za-z0-9_-]{43}$/)
    expect(r.stderr).toBe('Store the key now: it is not shown again.\n')
    const stored = await withStore((s) => s.getAdminKey(out.id))
    expect(stored).toMatchObject({
      name: 'ci-bot',
      keyHash: hashAdminKey(out.key),
      revokedAt: null,
    })
    expect(readFileSync(dbFile()).includes(out.key)).toBe(false)

    const list = await cli(['admin-keys', 'list', '--json'])
    expect(JSON.parse(list.stdout)).toStrictEqual([
      { id: out.id, name: 'ci-bot', createdAt: stored!.createdAt, revokedAt: null },
    ])
    expect(list.stdout).not.toContain('sha256')

    const revoked = await cli(['admin-keys', 'revoke', out.id!])
    expect(revoked.code).toBe(0)
    expect((await withStore((s) => s.getAdminKey(out.id)))?.revokedAt).not.toBeNull()
    const events = await withStore((s) => s.listEvents({ type: 'admin_key_revoked' }))
    expect(events[0]?.data).toStrictEqual({ keyId: out.id, name: 'ci-bot', actor: ACTOR })
    expect((await cli(['admin-keys', 'revoke', out.id!])).code).toBe(65)
    expect((await cli(['admin-keys', 'create', '--name', 'bad name'])).code).toBe(65)
  })

  it('hash prints the hash of the key on stdin, for admin.apiKeys', async () => {
    const key = 'an-operator-chosen-key-of-40-characters!'
    const r = await runInProcess(['admin-keys', 'hash'], { cwd: '/', stdin: key + '\n' })
    expect(r).toStrictEqual({ code: 0, stdout: `hash: ${hashAdminKey(key)}\n`, stderr: '' })
    const short = await runInProcess(['admin-keys', 'hash'], { cwd: '/', stdin: 'short\n' })
    expect(short.code).toBe(64)
  })
})

describe('the same commands on the dev data (--dev)', () => {
  it('users, sessions and events work on ./.tessera, through the real bin', async () => {
    const dev = tempDir('tessera-admin-dev-')
    try {
      const created = await runCli(['users', 'create', '--dev', '--username', 'devuser'], {
        cwd: dev.dir,
        stdin: 'dev user password\n',
        env,
      })
      expect(created.stderr).toBe('')
      expect(created.code).toBe(0)
      const id = lines(created.stdout).id
      const disabled = await runInProcess(['users', 'disable', '--dev', 'devuser'], {
        cwd: dev.dir,
        env,
      })
      expect(disabled.code).toBe(0)
      const sessions = await runInProcess(['sessions', 'list', '--dev', '--json'], {
        cwd: dev.dir,
        env,
      })
      expect(JSON.parse(sessions.stdout)).toStrictEqual([])
      const events = await runInProcess(['events', 'list', '--dev', '--json', '--user', id!], {
        cwd: dev.dir,
        env,
      })
      expect((JSON.parse(events.stdout) as { type: string }[]).map((e) => e.type)).toStrictEqual([
        'user_disabled',
        'user_created',
      ])
      const store = new SqliteStore({ file: join(dev.dir, '.tessera', 'tessera.db') })
      try {
        expect((await store.getUser(id))?.disabled).toBe(true)
      } finally {
        await store.close()
      }
    } finally {
      dev.remove()
    }
  })
})

describe('ids that begin with "-" (base64url: one id in 32)', () => {
  it('sessions revoke takes such an id as the id, whatever the position of the options', async () => {
    const u = await userWithSessions('dash-ids')
    const ids = ['-AAAAAAAAAAAAAAAAAAAAA', '-_x-y_z-0123456789abcd']
    await withStore(async (store) => {
      for (const id of ids) await store.createSession(sessionRecord({ id, userId: u.id }))
    })
    const first = await cli(['sessions', 'revoke', ids[0]!])
    expect(first.code, first.stderr).toBe(0)
    expect(lines(first.stdout)).toMatchObject({ id: ids[0], state: 'revoked', reason: 'admin' })
    const second = await runInProcess(['sessions', 'revoke', '--config', config, ids[1]!], {
      cwd: '/',
      env,
    })
    expect(second.code, second.stderr).toBe(0)
    await withStore(async (store) => {
      for (const id of ids) {
        expect(await store.getSession(id)).toMatchObject({ state: 'revoked', reason: 'admin' })
      }
    })
  })

  it('idsAsPositionals moves only id-shaped arguments that are no option, and keeps option values', () => {
    const options = {
      config: { type: 'string', short: 'c' },
      json: { type: 'boolean' },
    } as const
    expect(idsAsPositionals(['-AAAAAAAAAAAAAAAAAAAAA', '--json'], options)).toEqual([
      '--json',
      '--',
      '-AAAAAAAAAAAAAAAAAAAAA',
    ])
    // A config file named like an id stays the value of -c.
    expect(idsAsPositionals(['-c', '-AAAAAAAAAAAAAAAAAAAAA', 'abc'], options)).toEqual([
      '-c',
      '-AAAAAAAAAAAAAAAAAAAAA',
      'abc',
    ])
    // Nothing id-shaped: unchanged, so unknown options are still parseArgs' to refuse.
    expect(idsAsPositionals(['-x', 'abc'], options)).toEqual(['-x', 'abc'])
    expect(idsAsPositionals(['abc', '--', '-AAAAAAAAAAAAAAAAAAAAA'], options)).toEqual([
      'abc',
      '--',
      '-AAAAAAAAAAAAAAAAAAAAA',
    ])
  })
})
