import { writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createTestSchema, PG_URL, type TestSchema } from '../helpers/postgres.js'
import { freePort } from '../helpers/test-server.js'
import { CliProcess, cleanEnv, runCli, runInProcess, tempDir } from './cli-process.js'

// Child processes start slowly on a small, busy machine (tsx compiles the sources first).
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

/**
 * `tessera start` and `tessera migrate` on PostgreSQL: chosen by `DATABASE_URL` or by the file's
 * `database`, and refused with a configuration error (exit 78) naming the setting when the URL or a
 * PostgreSQL setting is wrong.
 */

const SECRET = 'pg-cli-test-secret-pg-cli-test-secret-0123456789'

let tmp: ReturnType<typeof tempDir>
let schema: TestSchema
beforeAll(async () => {
  tmp = tempDir()
  schema = await createTestSchema()
})
afterAll(async () => {
  tmp.remove()
  await schema.drop()
})

/** DATABASE_URL choosing the test schema through libpq's `options` parameter. */
const urlFor = (s: string): string =>
  `${PG_URL}?options=${encodeURIComponent(`-c search_path=${s}`)}`

function env(extra: Record<string, string>): Record<string, string> {
  return cleanEnv({
    TESSERA_ISSUER: 'http://127.0.0.1:4000',
    TESSERA_SECRET: SECRET,
    TESSERA_LOG_LEVEL: 'info',
    ...extra,
  })
}

async function tablesIn(name: string): Promise<string[]> {
  const c = await schema.admin()
  try {
    const { rows } = await c.query<{ table_name: string }>(
      'select table_name from information_schema.tables where table_schema = $1 order by 1',
      [name],
    )
    return rows.map((r) => r.table_name)
  } finally {
    await c.end()
  }
}

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

const TABLES = [
  'admin_keys',
  'admin_sessions',
  'apis',
  'authorization_codes',
  'browser_sessions',
  'clients',
  'device_keys',
  'dpop_proofs',
  'email_tokens',
  'passkeys',
  'recovery_codes',
  'security_events',
  'sessions',
  'settings',
  'signing_keys',
  'tessera_migrations',
  'tessera_migrations_lock',
  'throttle',
  'totp_credentials',
  'upstream_links',
  'users',
  'webauthn_challenges',
  'webhook_attempts',
  'webhook_deliveries',
  'webhook_messages',
]

describe('tessera migrate on PostgreSQL', () => {
  it('DATABASE_URL selects PostgreSQL: the tables are created in its schema, the URL is not printed', async () => {
    const r = await runCli(['migrate'], {
      cwd: tmp.dir,
      env: env({ DATABASE_URL: urlFor(schema.name) }),
    })
    expect([r.code, r.stdout, r.stderr]).toStrictEqual([0, 'migrated: postgres\n', ''])
    expect(await tablesIn(schema.name)).toStrictEqual(TABLES)
    // Again: nothing pending, still fine.
    const again = await runInProcess(['migrate'], {
      cwd: tmp.dir,
      env: env({ DATABASE_URL: urlFor(schema.name) }),
    })
    expect([again.code, again.stdout]).toStrictEqual([0, 'migrated: postgres\n'])
  })

  it("the file's database setting works the same, with its schema", async () => {
    const other = await createTestSchema()
    try {
      const file = join(tmp.dir, 'pg.json')
      writeFileSync(
        file,
        JSON.stringify({
          issuer: 'https://auth.example.test',
          secret: SECRET,
          database: { driver: 'postgres', url: PG_URL, schema: other.name, poolSize: 2 },
        }),
      )
      const r = await runInProcess(['migrate', '--config', file], { cwd: tmp.dir, env: cleanEnv() })
      expect([r.code, r.stdout, r.stderr]).toStrictEqual([0, 'migrated: postgres\n', ''])
      expect(await tablesIn(other.name)).toStrictEqual(TABLES)
    } finally {
      await other.drop()
    }
  })
})

describe('tessera start on PostgreSQL', () => {
  it('serves from DATABASE_URL, is ready, publishes the stored key and exits 0 on SIGTERM', async () => {
    const p = new CliProcess(['start', '--port', '0'], {
      cwd: tmp.dir,
      env: env({ DATABASE_URL: urlFor(schema.name) }),
    })
    try {
      const url = await p.url()
      expect(await get(url + '/readyz')).toStrictEqual({
        status: 200,
        body: JSON.stringify({ status: 'ready' }),
      })
      const jwks = JSON.parse((await get(url + '/.well-known/jwks.json')).body) as {
        keys: { kid: string }[]
      }
      const c = await schema.admin()
      const { rows } = await c.query<{ kid: string }>('select kid from signing_keys')
      await c.end()
      expect(jwks.keys.map((k) => k.kid)).toStrictEqual(rows.map((r) => r.kid))
    } finally {
      const { code, signal } = await p.stop()
      expect([code, signal]).toStrictEqual([0, null])
    }
    expect(p.stdout + p.stderr).not.toContain(PG_URL)
  })

  const cases: { name: string; env?: Record<string, string>; file?: object; setting: string }[] = [
    {
      name: 'a DATABASE_URL that is not a URL (port out of range)',
      env: { DATABASE_URL: 'postgres://db.internal:99999/tessera' },
      setting: 'DATABASE_URL',
    },
    {
      name: 'a DATABASE_URL of another database',
      env: { DATABASE_URL: 'mysql://db.internal/tessera' },
      setting: 'DATABASE_URL',
    },
    {
      name: 'a file URL with a fragment',
      file: { driver: 'postgres', url: 'postgres://db.internal/tessera#x' },
      setting: 'database.url',
    },
    {
      name: 'a pool of 0 connections',
      file: { driver: 'postgres', url: 'postgres://db.internal/tessera', poolSize: 0 },
      setting: 'database.poolSize',
    },
    {
      name: 'a schema that is not a plain identifier',
      file: { driver: 'postgres', url: 'postgres://db.internal/tessera', schema: 'a;drop' },
      setting: 'database.schema',
    },
    {
      name: 'an unknown PostgreSQL setting',
      file: { driver: 'postgres', url: 'postgres://db.internal/tessera', pool: 3 },
      setting: 'database.pool',
    },
    {
      name: 'a database that does not exist (refused by the server)',
      env: { DATABASE_URL: PG_URL.replace(/\/[^/]*$/, '/tessera_no_such_database') },
      setting: 'DATABASE_URL',
    },
  ]

  for (const c of cases) {
    it(`${c.name}: exit 78 and one line naming ${c.setting}`, async () => {
      const args: string[] = ['start', '--port', '0']
      if (c.file) {
        const file = join(tmp.dir, `case-${cases.indexOf(c)}.json`)
        writeFileSync(file, JSON.stringify({ database: c.file }))
        args.push('--config', file)
      }
      const r = await runInProcess(args, { cwd: tmp.dir, env: env(c.env ?? {}) })
      expect(r.code, r.stderr).toBe(78)
      expect(r.stdout).toBe('')
      const lines = r.stderr.trimEnd().split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]!.startsWith(`tessera: invalid configuration: ${c.setting}: `)).toBe(true)
      expect(r.stderr).not.toContain('db.internal')
    })
  }

  it('an unreachable database: exit 1 with one line, no stack', async () => {
    const port = await freePort()
    const r = await runInProcess(['start', '--port', '0'], {
      cwd: tmp.dir,
      env: env({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/test` }),
    })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^tessera: cannot reach the database \([^\n]*ECONNREFUSED[^\n]*\)\n$/)
  })
})
