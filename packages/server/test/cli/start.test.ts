import { existsSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { CliProcess, cleanEnv, runCli, runInProcess, tempDir } from './cli-process.js'

// Child processes start slowly on a small, busy machine (tsx compiles the sources first).
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

const SLOW_FIXTURE = fileURLToPath(new URL('./fixtures/start-with-slow-route.ts', import.meta.url))
const SECRET = 'start-test-secret-start-test-secret-0123456789'

let tmp: ReturnType<typeof tempDir>
beforeAll(() => {
  tmp = tempDir()
})
afterAll(() => tmp.remove())

function prodEnv(extra: Record<string, string> = {}): Record<string, string> {
  return cleanEnv({
    TESSERA_ISSUER: 'http://127.0.0.1:4000',
    TESSERA_SECRET: SECRET,
    TESSERA_SQLITE_FILE: join(tmp.dir, 'start.db'),
    TESSERA_LOG_LEVEL: 'info',
    ...extra,
  })
}

/** A GET over a fresh connection (no keep-alive pool), resolving with status and body. */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('tessera start: bad configuration', () => {
  const files = tempDir()
  afterAll(() => files.remove())
  const fragment = join(files.dir, 'fragment.json')
  writeFileSync(
    fragment,
    JSON.stringify({ clients: [{ id: 'app', redirectUris: ['https://app.example/cb#frag'] }] }),
  )
  const unknownKey = join(files.dir, 'unknown.json')
  writeFileSync(unknownKey, JSON.stringify({ isuer: 'https://auth.example.com' }))
  const badJson = join(files.dir, 'bad.json')
  writeFileSync(badJson, `{ "secret": "${SECRET}", }`)

  const cases: { name: string; env: Record<string, string>; args?: string[]; setting: string }[] = [
    { name: 'a port that is not a number', env: { TESSERA_PORT: 'http' }, setting: 'TESSERA_PORT' },
    { name: 'a port out of range', env: { TESSERA_PORT: '70000' }, setting: 'TESSERA_PORT' },
    {
      name: 'an http issuer outside loopback',
      env: { TESSERA_ISSUER: 'http://auth.example.com' },
      setting: 'TESSERA_ISSUER',
    },
    { name: 'a short secret', env: { TESSERA_SECRET: 'short' }, setting: 'TESSERA_SECRET' },
    { name: 'no secret at all', env: { TESSERA_SECRET: '' }, setting: 'secret' },
    {
      name: 'a short secret in the ring',
      env: { TESSERA_SECRET: '', TESSERA_SECRETS: `${SECRET},short` },
      setting: 'TESSERA_SECRETS',
    },
    {
      name: 'an unknown log level',
      env: { TESSERA_LOG_LEVEL: 'loud' },
      setting: 'TESSERA_LOG_LEVEL',
    },
    {
      name: 'an unknown signing algorithm',
      env: { TESSERA_SIGNING_ALG: 'HS256' },
      setting: 'TESSERA_SIGNING_ALG',
    },
    {
      name: 'a trusted proxy that is not an IP',
      env: { TESSERA_TRUST_PROXY: '10.0.0.1, proxy.internal' },
      setting: 'TESSERA_TRUST_PROXY',
    },
    {
      name: 'two databases',
      env: { DATABASE_URL: 'postgres://db.internal/tessera' },
      setting: 'DATABASE_URL',
    },
    {
      name: 'a redirect URI with a fragment in the file',
      env: {},
      args: ['--config', fragment],
      setting: 'clients[0].redirectUris[0]',
    },
    {
      name: 'a misspelt setting in the file',
      env: {},
      args: ['--config', unknownKey],
      setting: 'isuer',
    },
    {
      name: 'an admin port that is not a number',
      env: { TESSERA_ADMIN_PORT: 'internal' },
      setting: 'TESSERA_ADMIN_PORT',
    },
    {
      name: 'a metrics port equal to the public port',
      env: { TESSERA_PORT: '4000', TESSERA_METRICS_PORT: '4000' },
      setting: 'TESSERA_METRICS_PORT',
    },
    { name: 'a file that is not JSON', env: {}, args: ['--config', badJson], setting: '--config' },
    { name: 'a missing file', env: {}, args: ['--config', 'nope.json'], setting: '--config' },
  ]

  for (const c of cases) {
    it(`${c.name} stops start-up with exit 78 and one line naming ${c.setting}`, async () => {
      const r = await runInProcess(['start', ...(c.args ?? [])], {
        cwd: tmp.dir,
        env: prodEnv(c.env),
      })
      expectConfigError(r, c.setting)
    })
  }

  it('the process itself exits 78 with the one line (child process)', async () => {
    for (const [env, args, setting] of [
      [{ TESSERA_PORT: 'http' }, [], 'TESSERA_PORT'],
      [{}, ['--config', fragment], 'clients[0].redirectUris[0]'],
    ] as const) {
      const r = await runCli(['start', ...args], { cwd: tmp.dir, env: prodEnv(env) })
      expectConfigError(r, setting)
    }
  })
})

function expectConfigError(
  r: { code: number | null; stdout: string; stderr: string },
  setting: string,
): void {
  expect(r.code).toBe(78)
  expect(r.stdout).toBe('')
  const lines = r.stderr.trimEnd().split('\n')
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(new RegExp(`^tessera: invalid configuration: ${escape(setting)}: \\S`))
  expect(r.stderr).not.toContain(SECRET)
  expect(r.stderr).not.toMatch(/\n\s+at /)
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

describe('tessera start: a secret that does not match the data', () => {
  it('exits 78 naming secret when the stored signing keys were made under another secret', async () => {
    const db = join(tmp.dir, 'other-secret.db')
    const first = await runInProcess(['keys', 'list'], {
      cwd: tmp.dir,
      env: prodEnv({ TESSERA_SQLITE_FILE: db }),
    })
    expect(first.code).toBe(0)
    const r = await runInProcess(['start', '--port', '0'], {
      cwd: tmp.dir,
      env: prodEnv({ TESSERA_SQLITE_FILE: db, TESSERA_SECRET: 'another-secret-'.repeat(3) }),
    })
    expectConfigError(r, 'secret')
  })

  it('exits 78 naming secrets when no secret of the ring opens the stored signing keys', async () => {
    const db = join(tmp.dir, 'other-ring.db')
    expect(
      (
        await runInProcess(['keys', 'list'], {
          cwd: tmp.dir,
          env: prodEnv({ TESSERA_SQLITE_FILE: db }),
        })
      ).code,
    ).toBe(0)
    const other = ['another-secret-'.repeat(3), 'yet-another-secret-'.repeat(3)].join(',')
    const r = await runInProcess(['start', '--port', '0'], {
      cwd: tmp.dir,
      env: prodEnv({ TESSERA_SQLITE_FILE: db, TESSERA_SECRET: '', TESSERA_SECRETS: other }),
    })
    expectConfigError(r, 'secrets')
    expect(r.stderr).toContain('none of these is the secret the stored signing keys were made with')
  })
})

describe('tessera start: running and stopping', () => {
  it('prints issuer and url, serves, and exits 0 on SIGTERM with the store closed', async () => {
    const db = join(tmp.dir, 'run.db')
    const p = new CliProcess(['start', '--port', '0'], {
      cwd: tmp.dir,
      env: prodEnv({ TESSERA_SQLITE_FILE: db }),
    })
    const url = await p.url()
    expect(p.values().get('issuer')).toEqual(['http://127.0.0.1:4000'])
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect((await get(url + '/readyz')).status).toBe(200)
    const { code, signal } = await p.stop()
    expect(signal).toBeNull()
    expect(code).toBe(0)
    // SQLite removes the WAL file when the last connection closes cleanly.
    expect(existsSync(db)).toBe(true)
    expect(existsSync(db + '-wal')).toBe(false)
    const logs = p.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; level: number })
    expect(logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['shutting down: draining in-flight requests', 'stopped']),
    )
  })

  it('with TESSERA_ADMIN_PORT and TESSERA_METRICS_PORT it prints and serves the internal listeners, which the public one does not', async () => {
    const p = new CliProcess(['start', '--port', '0'], {
      cwd: tmp.dir,
      env: prodEnv({
        TESSERA_SQLITE_FILE: join(tmp.dir, 'internal.db'),
        TESSERA_ADMIN_PORT: '0',
        TESSERA_METRICS_PORT: '0',
      }),
    })
    try {
      const url = await p.url()
      const [admin] = p.values().get('admin') ?? []
      const [metrics] = p.values().get('metrics') ?? []
      expect(admin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(metrics).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect((await get(url + '/metrics')).status).toBe(404)
      expect((await get(url + '/admin/sign-in')).status).toBe(404)
      expect((await get(`${metrics}/metrics`)).body).toContain('tessera_heap_used_bytes')
      expect((await get(`${admin}/admin/sign-in`)).status).toBe(200)
    } finally {
      expect((await p.stop()).code).toBe(0)
    }
  })

  it('an internal port in use stops start-up with exit 1 and one line naming that address', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as { port: number }).port
    try {
      const r = await runCli(['start', '--port', '0'], {
        cwd: tmp.dir,
        env: prodEnv({
          TESSERA_SQLITE_FILE: join(tmp.dir, 'taken.db'),
          TESSERA_ADMIN_PORT: String(port),
        }),
      })
      expect(r.code).toBe(1)
      expect(r.stderr).toContain(
        `tessera: cannot listen on 127.0.0.1:${port}: the address is in use\n`,
      )
      expect(r.stdout).not.toContain('url:')
    } finally {
      taken.close()
    }
  })

  it('SIGTERM during a slow in-flight request lets it finish, refuses new connections, exits 0', async () => {
    const p = new CliProcess(['start', '--port', '0'], {
      cwd: tmp.dir,
      env: prodEnv({ TESSERA_SQLITE_FILE: join(tmp.dir, 'slow.db') }),
      entry: SLOW_FIXTURE,
    })
    const url = await p.url()
    const slow = get(url + '/test/slow?ms=1500')
    await p.waitFor(/^slow: started$/m)
    p.child.kill('SIGTERM')
    await p.waitFor(/shutting down/)
    // Not accepting any more: a new connection is refused (or answered 503 while closing).
    const late = await get(url + '/healthz').then(
      (r) => r.status,
      (e: NodeJS.ErrnoException) => e.code,
    )
    expect(['ECONNREFUSED', 'ECONNRESET', 503]).toContain(late)
    const res = await slow
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toEqual({ done: true, ms: 1500 })
    const { code } = await p.exited
    expect(code).toBe(0)
  })

  it('a second signal exits at once without draining', async () => {
    const p = new CliProcess(['start', '--port', '0'], {
      cwd: tmp.dir,
      env: prodEnv({ TESSERA_SQLITE_FILE: join(tmp.dir, 'twice.db') }),
      entry: SLOW_FIXTURE,
    })
    const url = await p.url()
    const slow = get(url + '/test/slow?ms=20000').catch((e: NodeJS.ErrnoException) => e.code)
    await p.waitFor(/^slow: started$/m)
    const t0 = Date.now()
    p.child.kill('SIGTERM')
    await p.waitFor(/shutting down/)
    p.child.kill('SIGTERM')
    const { code } = await p.exited
    expect(code).toBe(143)
    // Well before the 20 s request could have finished: it was not drained.
    expect(Date.now() - t0).toBeLessThan(15_000)
    expect(await slow).toBe('ECONNRESET')
  })

  /** A server of the slow fixture with a slow request in flight. */
  async function withSlowRequest(name: string, ms: number) {
    const p = new CliProcess(['start', '--port', '0'], {
      cwd: tmp.dir,
      env: prodEnv({ TESSERA_SQLITE_FILE: join(tmp.dir, `${name}.db`) }),
      entry: SLOW_FIXTURE,
    })
    const url = await p.url()
    const slow = get(`${url}/test/slow?ms=${ms}`).then(
      (r) => r.status,
      (e: NodeJS.ErrnoException) => e.code,
    )
    await p.waitFor(/^slow: started$/m)
    return { p, slow }
  }

  const logsOf = (p: CliProcess) =>
    p.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; level: number; [k: string]: unknown })

  it('SIGINT drains like SIGTERM: the in-flight request finishes, exit 0', async () => {
    const { p, slow } = await withSlowRequest('sigint', 1500)
    p.child.kill('SIGINT')
    await p.waitFor(/shutting down/)
    expect(await slow).toBe(200)
    expect((await p.exited).code).toBe(0)
    expect(logsOf(p).find((l) => l.msg.startsWith('shutting down'))?.signal).toBe('SIGINT')
  })

  it.each([
    ['SIGINT', 'SIGINT', 130],
    ['SIGINT', 'SIGTERM', 143],
    ['SIGTERM', 'SIGINT', 130],
  ] as const)(
    'a second signal during the drain exits at once: %s then %s exits %i',
    async (first, second, exit) => {
      const { p, slow } = await withSlowRequest(`twice-${first}-${second}`, 60_000)
      p.child.kill(first)
      await p.waitFor(/shutting down/)
      p.child.kill(second)
      const { code, signal } = await p.exited
      expect([code, signal]).toEqual([exit, null])
      expect(await slow).toBe('ECONNRESET')
      const warn = logsOf(p).find((l) => l.msg === 'second signal: exiting without draining')
      expect(warn).toMatchObject({ level: 40, signal: second })
    },
  )

  it('a drain that takes longer than 30 s exits 1, not before 30 s, with an error log line', async () => {
    const { p, slow } = await withSlowRequest('drain-timeout', 90_000)
    const signalled = performance.now()
    p.child.kill('SIGTERM')
    const { code, signal } = await p.exited
    const waited = performance.now() - signalled
    expect([code, signal]).toEqual([1, null])
    // A lower bound, not a speed check: the deadline is a 30 s timer, so it cannot fire sooner.
    expect(waited).toBeGreaterThanOrEqual(30_000)
    expect(await slow).toBe('ECONNRESET')
    const timedOut = logsOf(p).find((l) => l.msg === 'drain timed out: exiting')
    expect(timedOut).toMatchObject({ level: 50, timeoutSeconds: 30 })
    expect(logsOf(p).some((l) => l.msg === 'stopped')).toBe(false)
  })
})
