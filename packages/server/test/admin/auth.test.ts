import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AdminServices } from '../../src/admin/admin-services.js'
import { AdminAuthenticator } from '../../src/admin/auth/admin-auth.js'
import { hashAdminKey } from '../../src/admin/auth/admin-key-hash.js'
import { ConfigError } from '../../src/config/config.js'
import { loadConfig } from '../../src/config/load.js'
import { resolveConfig } from '../../src/config/resolve.js'
import { TEST_SECRET } from '../helpers/test-server.js'
import {
  ADMIN_KEY,
  adminApi,
  allEvents,
  startAdminServer,
  type TestServer,
} from './admin-helpers.js'

const LIMIT = 4

let t: TestServer
beforeAll(async () => {
  t = await startAdminServer({
    config: { throttle: { adminPerIp: { limit: LIMIT, windowSeconds: 900 } } },
  })
  await t.createUser()
})
afterAll(async () => {
  await t.close()
})

const CLI = { kind: 'cli', id: 'cli', name: 'test', via: 'cli', ip: null, userAgent: null } as const

describe('Admin API authentication', () => {
  it('no Authorization header: 401 with a clear JSON error and a Bearer challenge, not counted', async () => {
    for (let i = 0; i < LIMIT + 1; i++) {
      const r = await adminApi(t, 'GET', '/users', undefined, { key: null })
      expect(r.status).toBe(401)
      expect(r.body).toStrictEqual({
        error: 'invalid_token',
        error_description: 'this API needs an admin key: Authorization: Bearer <key>',
      })
      expect(r.headers.get('www-authenticate')).toBe('Bearer realm="tessera-admin"')
      expect(r.headers.get('cache-control')).toBe('no-store')
    }
    expect((await adminApi(t, 'GET', '/users')).status).toBe(200)
  })

  it('a non-Bearer Authorization header is refused the same way', async () => {
    const r = await adminApi(t, 'GET', '/users', undefined, {
      key: null,
      headers: { authorization: `Basic ${Buffer.from('admin:' + ADMIN_KEY).toString('base64')}` },
    })
    expect(r.status).toBe(401)
    expect(r.body.error_description).toBe('the Authorization header must be Bearer <admin key>')
  })

  it('unknown paths need a key too: the API does not reveal its routes', async () => {
    const r = await adminApi(t, 'GET', '/nothing-here', undefined, { key: null })
    expect(r.status).toBe(401)
    const known = await adminApi(t, 'GET', '/nothing-here')
    expect(known.status).toBe(404)
    expect(known.body).toStrictEqual({ error: 'not_found', error_description: 'no such endpoint' })
  })

  it('no CORS: a cross-origin read of the Admin API is not allowed', async () => {
    const r = await adminApi(t, 'GET', '/users', undefined, {
      headers: { origin: 'https://evil.example.test' },
    })
    expect(r.status).toBe(200)
    expect(r.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('wrong keys from one IP: 401 and an admin_auth_failure event each, then 429 with Retry-After; the right key from that IP still works (one address behind an untrusted proxy)', async () => {
    const from = '127.0.0.3'
    const before = (await allEvents(t)).length
    for (let i = 0; i < LIMIT; i++) {
      const r = await adminApi(t, 'GET', '/users', undefined, { key: `tsa_wrong-${i}`, from })
      expect(r.status).toBe(401)
      expect(r.body).toStrictEqual({
        error: 'invalid_token',
        error_description: 'the admin key is not valid',
      })
      expect(r.headers.get('www-authenticate')).toBe(
        'Bearer realm="tessera-admin", error="invalid_token"',
      )
    }
    const failures = (await allEvents(t)).slice(before)
    expect(failures.map((e) => [e.type, e.ip, e.data])).toStrictEqual(
      Array.from({ length: LIMIT }, () => ['admin_auth_failure', from, { via: 'api' }]),
    )
    const throttled = await adminApi(t, 'GET', '/users', undefined, { key: 'tsa_next', from })
    expect(throttled.status).toBe(429)
    expect(throttled.body).toStrictEqual({
      error: 'temporarily_unavailable',
      error_description: 'too many failed attempts, retry later',
    })
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0)
    // The valid key is checked before the counter: wrong keys sent by others never lock it out.
    expect((await adminApi(t, 'GET', '/users', undefined, { from })).status).toBe(200)
    expect((await adminApi(t, 'GET', '/users', undefined, { from: '127.0.0.4' })).status).toBe(200)
    // Wrong keys while throttled are neither counted nor recorded.
    await adminApi(t, 'GET', '/users', undefined, { key: 'tsa_more', from })
    expect((await allEvents(t)).length).toBe(before + LIMIT)
    expect(await t.store.throttleCount(`admin-ip:${from}`, t.clock.now(), 900)).toBe(LIMIT)
  })

  it('keys made by the CLI are stored as hashes only, work at once and stop at revocation', async () => {
    const admin = new AdminServices(t.server.ctx)
    const { key, record } = await admin.keys.create(CLI, 'deploy-bot')
    expect(key).toMatch(/^tsa_[A-Za-z0-9_-]{43}$/)
    const stored = await t.store.getAdminKey(record.id)
    expect(stored?.keyHash).toBe(hashAdminKey(key))
    expect(readFileSync(t.dbFile).includes(key)).toBe(false)

    const ok = await adminApi(
      t,
      'POST',
      '/users',
      { username: 'by-bot', password: 'bot password 1' },
      { key },
    )
    expect(ok.status).toBe(201)
    const [created] = await t.store.listEvents({ type: 'user_created', userId: ok.body.id })
    expect(created?.data.actor).toStrictEqual({
      kind: 'api_key',
      id: record.id,
      name: 'deploy-bot',
      via: 'api',
    })

    await admin.keys.revoke(CLI, record.id)
    const after = await adminApi(t, 'GET', '/users', undefined, { key, from: '127.0.0.5' })
    expect(after.status).toBe(401)
    expect(after.body.error_description).toBe('the admin key is not valid')
  })

  it('no key material is kept: neither the database nor the events hold the key', async () => {
    expect(readFileSync(t.dbFile).includes(ADMIN_KEY)).toBe(false)
    expect(JSON.stringify(await allEvents(t))).not.toContain(ADMIN_KEY)
  })
})

describe('admin keys in the configuration', () => {
  const base = { issuer: 'https://auth.example.test', secret: TEST_SECRET }

  it('TESSERA_ADMIN_API_KEY is hashed at load: the configuration holds its hash, never the key', () => {
    const key = 'k'.repeat(40)
    const config = loadConfig({
      env: { TESSERA_ISSUER: base.issuer, TESSERA_SECRET: TEST_SECRET, TESSERA_ADMIN_API_KEY: key },
      cwd: '/nonexistent-dir',
    })
    expect(config.admin.apiKeys).toStrictEqual([
      { name: 'TESSERA_ADMIN_API_KEY', hash: hashAdminKey(key) },
    ])
    expect(JSON.stringify(config)).not.toContain(key)
  })

  it.each([
    ['k'.repeat(31), 'must be 32 to 512 printable ASCII characters without spaces'],
    [
      'k'.repeat(20) + ' ' + 'k'.repeat(20),
      'must be 32 to 512 printable ASCII characters without spaces',
    ],
    // Longer than an Authorization header may carry it, or not ASCII: could never be presented.
    ['k'.repeat(513), 'must be 32 to 512 printable ASCII characters without spaces'],
    ['ключ'.repeat(10), 'must be 32 to 512 printable ASCII characters without spaces'],
  ])('TESSERA_ADMIN_API_KEY %#: refused, naming the variable', (key, reason) => {
    expect(() =>
      loadConfig({
        env: {
          TESSERA_ISSUER: base.issuer,
          TESSERA_SECRET: TEST_SECRET,
          TESSERA_ADMIN_API_KEY: key,
        },
        cwd: '/nonexistent-dir',
      }),
    ).toThrow(new ConfigError('TESSERA_ADMIN_API_KEY', reason))
  })

  it.each([
    [{ apiKeys: [{ name: 'ops', hash: 'plain-key' }] }, 'admin.apiKeys[0].hash'],
    [{ apiKeys: [{ name: 'o p s', hash: hashAdminKey('x') }] }, 'admin.apiKeys[0].name'],
    [
      {
        apiKeys: [
          { name: 'a', hash: hashAdminKey('x') },
          { name: 'a', hash: hashAdminKey('y') },
        ],
      },
      'admin.apiKeys[1].name',
    ],
    [{ consoleIdleSeconds: 10 }, 'admin.consoleIdleSeconds'],
    [{ consoleAbsoluteSeconds: 8 * 86_400 }, 'admin.consoleAbsoluteSeconds'],
    [{ apikeys: [] }, 'admin.apikeys'],
  ])('a bad admin setting names itself: %j', (admin, setting) => {
    let err: unknown
    try {
      resolveConfig({ ...base, admin: admin as never })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).setting).toBe(setting)
  })

  it('defaults: no keys, 30-minute idle and 12-hour absolute console sign-ins, 20 wrong keys per IP per 15 minutes', () => {
    const config = resolveConfig(base)
    expect(config.admin).toStrictEqual({
      apiKeys: [],
      consoleIdleSeconds: 1800,
      consoleAbsoluteSeconds: 43_200,
      // Served on the public listener.
      port: undefined,
      host: '127.0.0.1',
    })
    expect(config.throttle.adminPerIp).toStrictEqual({ limit: 20, windowSeconds: 900 })
  })
})

describe('console sessions and replaced configuration keys', () => {
  it('a configured key replaced under the same name no longer vouches for sign-ins made with the old one', async () => {
    const oldKey = 'tsa_old-key-0123456789-abcdefghijklmnopqrstuvwx'
    const newKey = 'tsa_new-key-0123456789-abcdefghijklmnopqrstuvwx'
    const withKey = (key: string) =>
      new AdminAuthenticator({
        store: t.store,
        config: {
          ...t.server.ctx.config,
          admin: {
            ...t.server.ctx.config.admin,
            apiKeys: [{ name: 'ops', hash: hashAdminKey(key) }],
          },
        },
      })
    const before = await withKey(oldKey).authenticate(oldKey)
    expect(before).toMatchObject({ keyId: 'config:ops', name: 'ops' })
    // The same configuration still vouches for it; after the replacement (a restart with a new
    // TESSERA_ADMIN_API_KEY, say) the old sign-in is refused, the new key's accepted.
    expect(await withKey(oldKey).byCredentialId(before!.credentialId)).toMatchObject({
      keyId: 'config:ops',
    })
    expect(await withKey(newKey).byCredentialId(before!.credentialId)).toBeUndefined()
    const after = await withKey(newKey).authenticate(newKey)
    expect(after?.credentialId).not.toBe(before!.credentialId)
    expect(await withKey(newKey).byCredentialId(after!.credentialId)).toMatchObject({ name: 'ops' })
    // A bare name (no fingerprint) is never enough.
    expect(await withKey(newKey).byCredentialId('config:ops')).toBeUndefined()
  })
})
