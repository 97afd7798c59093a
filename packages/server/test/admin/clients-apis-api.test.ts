import { readFileSync } from 'node:fs'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config/config.js'
import { resolveConfig } from '../../src/config/resolve.js'
import { hashClientSecret } from '../../src/oauth/client-secret.js'
import { basicAuth, postForm, signInTokens } from '../helpers/grants.js'
import { rowCounts } from '../helpers/oauth-flow.js'
import { API_A } from '../helpers/test-server.js'
import { isActive, refresh } from '../token/fixtures.js'
import { adminApi, API_ACTOR, startAdminServer, type TestServer } from './admin-helpers.js'

const NEW_API = 'https://reports.example.test/v1'

let t: TestServer
beforeAll(async () => {
  t = await startAdminServer()
})
afterAll(async () => {
  await t.close()
})

async function expectRefused(
  method: string,
  path: string,
  body: unknown,
  status: number,
  description: string,
): Promise<void> {
  const before = rowCounts(t)
  const clients = await t.store.listClients()
  const apis = await t.store.listApis()
  const r = await adminApi(t, method, path, body)
  const error = { 400: 'invalid_request', 404: 'not_found', 409: 'conflict' }[status]
  expect({ status: r.status, body: r.body }).toStrictEqual({
    status,
    body: { error, error_description: description },
  })
  expect(rowCounts(t)).toStrictEqual(before)
  expect(await t.store.listClients()).toStrictEqual(clients)
  expect(await t.store.listApis()).toStrictEqual(apis)
}

const clientCredentials = (id: string, secret: string, resource: string) =>
  postForm(
    t.url + '/oauth/token',
    { grant_type: 'client_credentials', resource },
    basicAuth(id, secret),
  )

describe('APIs (audiences)', () => {
  it('lists the configured APIs as managed by the configuration', async () => {
    const r = await adminApi(t, 'GET', '/apis')
    expect(r.status).toBe(200)
    expect(
      r.body.apis.map((a: { audience: string; managedBy: string }) => [a.audience, a.managedBy]),
    ).toStrictEqual([
      [API_A, 'config'],
      ['https://api-b.example.test', 'config'],
    ])
  })

  it('creates an API with scopes, lifetime and userClaims; its audience is the URL-encoded path', async () => {
    const r = await adminApi(t, 'POST', '/apis', {
      audience: NEW_API,
      name: 'Reports',
      scopes: ['reports:read'],
      accessTokenTtlSeconds: 120,
      userClaims: ['plan'],
    })
    expect(r.status).toBe(201)
    expect(r.body).toStrictEqual({
      audience: NEW_API,
      name: 'Reports',
      scopes: ['reports:read'],
      accessTokenTtlSeconds: 120,
      userClaims: ['plan'],
      createdAt: t.clock.now(),
      updatedAt: t.clock.now(),
      managedBy: 'admin',
    })
    const got = await adminApi(t, 'GET', `/apis/${encodeURIComponent(NEW_API)}`)
    expect(got.body).toStrictEqual(r.body)
    const [ev] = await t.store.listEvents({ type: 'api_created' })
    expect(ev?.data).toStrictEqual({ audience: NEW_API, actor: API_ACTOR })
  })

  it.each([
    [
      'POST',
      '/apis',
      { audience: API_A },
      409,
      `API ${API_A} is declared in the configuration file, which is re-applied on every start; change it there`,
    ],
    [
      'PUT',
      `/apis/${encodeURIComponent(API_A)}`,
      { scopes: [] },
      409,
      `API ${API_A} is declared in the configuration file, which is re-applied on every start; change it there`,
    ],
    [
      'DELETE',
      `/apis/${encodeURIComponent(API_A)}`,
      undefined,
      409,
      `API ${API_A} is declared in the configuration file, which is re-applied on every start; change it there`,
    ],
    ['POST', '/apis', { audience: NEW_API }, 409, `API ${NEW_API} exists already`],
    [
      'POST',
      '/apis',
      { audience: 'not a uri' },
      400,
      'audience: must be an absolute URI (RFC 8707)',
    ],
    [
      'POST',
      '/apis',
      { audience: 'https://x.example.test/#f' },
      400,
      'audience: must not contain a fragment',
    ],
    [
      'POST',
      '/apis',
      { audience: 'https://x.example.test', scopes: ['a b'] },
      400,
      'scopes[0]: is not a valid scope token',
    ],
    [
      'POST',
      '/apis',
      { audience: 'https://x.example.test', accessTokenTtlSeconds: 5 },
      400,
      'accessTokenTtlSeconds: must be a whole number from 10 to 86400',
    ],
    [
      'POST',
      '/apis',
      { audience: 'https://x.example.test', userClaims: [''] },
      400,
      'userClaims[0]: must be 1 to 128 characters',
    ],
    [
      'POST',
      '/apis',
      { audience: 'https://x.example.test', userClaims: 'plan' },
      400,
      'userClaims: must be a list of strings',
    ],
    ['POST', '/apis', { name: 'no audience' }, 400, 'audience is required'],
    [
      'PUT',
      `/apis/${encodeURIComponent(NEW_API)}`,
      { audience: API_A },
      400,
      'audience: must be the audience in the path',
    ],
    [
      'GET',
      `/apis/${encodeURIComponent('https://nope.example.test')}`,
      undefined,
      404,
      'no API https://nope.example.test',
    ],
    [
      'DELETE',
      `/apis/${encodeURIComponent('https://nope.example.test')}`,
      undefined,
      404,
      'no API https://nope.example.test',
    ],
  ])('%s %s %j is %i and changes nothing', async (method, path, body, status, description) => {
    await expectRefused(method, path, body, status, description)
  })
})

describe('clients', () => {
  let secret: string

  it('lists configured clients as managed by the configuration, without secrets', async () => {
    const r = await adminApi(t, 'GET', '/clients')
    const conf = r.body.clients.find((c: { id: string }) => c.id === 'confidential-app')
    expect(conf).toMatchObject({
      confidential: true,
      managedBy: 'config',
      tokenEndpointAuthMethod: 'client_secret_basic',
    })
    expect(JSON.stringify(r.body)).not.toMatch(/secretHash|sha256\$/)
  })

  it('a confidential client gets a secret shown once and stored hashed; it works at the token endpoint', async () => {
    const r = await adminApi(t, 'POST', '/clients', {
      id: 'report-worker',
      name: 'Report worker',
      tokenEndpointAuthMethod: 'client_secret_basic',
      grantTypes: ['client_credentials'],
      scopes: ['reports:read'],
      audiences: [NEW_API],
    })
    expect(r.status).toBe(201)
    secret = r.body.clientSecret
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(r.body.client).toMatchObject({
      id: 'report-worker',
      confidential: true,
      managedBy: 'admin',
      audiences: [NEW_API],
    })
    expect((await t.store.getClient('report-worker'))?.secretHash).toBe(hashClientSecret(secret))
    expect(readFileSync(t.dbFile).includes(secret)).toBe(false)
    const got = await adminApi(t, 'GET', '/clients/report-worker')
    expect(got.body).toStrictEqual(r.body.client)
    expect(JSON.stringify(got.body)).not.toContain(secret)

    // The new API and client are live at once: the token is for the new audience, with its lifetime.
    const tok = await clientCredentials('report-worker', secret, NEW_API)
    expect(tok.status).toBe(200)
    expect(decodeJwt(tok.body.access_token)).toMatchObject({ aud: NEW_API, scope: 'reports:read' })
    expect(tok.body.expires_in).toBe(120)
    const [ev] = await t.store.listEvents({ type: 'client_created', clientId: 'report-worker' })
    expect(ev?.data).toStrictEqual({ actor: API_ACTOR })
  })

  it('rotating the secret: the new one works, the old one fails at once', async () => {
    const r = await adminApi(t, 'POST', '/clients/report-worker/secret')
    expect(r.status).toBe(200)
    const fresh = r.body.clientSecret as string
    expect(fresh).not.toBe(secret)
    expect((await clientCredentials('report-worker', secret, NEW_API)).status).toBe(401)
    expect((await clientCredentials('report-worker', fresh, NEW_API)).status).toBe(200)
    expect(
      await t.store.listEvents({ type: 'client_secret_rotated', clientId: 'report-worker' }),
    ).toHaveLength(1)
    secret = fresh
  })

  it('replace keeps the secret of a client that stays confidential and rewrites the rest', async () => {
    const r = await adminApi(t, 'PUT', '/clients/report-worker', {
      name: 'Report worker v2',
      grantTypes: ['client_credentials'],
      scopes: ['reports:read'],
      audiences: [NEW_API],
      sessionIdleSeconds: 3600,
    })
    expect(r.status).toBe(200)
    expect(r.body.clientSecret).toBeUndefined()
    expect(r.body.client).toMatchObject({
      name: 'Report worker v2',
      tokenEndpointAuthMethod: 'client_secret_basic',
      sessionIdleSeconds: 3600,
    })
    expect((await clientCredentials('report-worker', secret, NEW_API)).status).toBe(200)
  })

  it('a public client made confidential by a replace gets a new secret; made public again, it has none', async () => {
    const created = await adminApi(t, 'POST', '/clients', {
      id: 'spa',
      redirectUris: ['https://spa.example.test/cb'],
    })
    expect(created.status).toBe(201)
    expect(created.body.clientSecret).toBeUndefined()
    expect(created.body.client).toMatchObject({
      confidential: false,
      tokenEndpointAuthMethod: 'none',
    })
    const confidential = await adminApi(t, 'PUT', '/clients/spa', {
      redirectUris: ['https://spa.example.test/cb'],
      tokenEndpointAuthMethod: 'client_secret_post',
    })
    expect(confidential.body.clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect((await t.store.getClient('spa'))?.secretHash).toBe(
      hashClientSecret(confidential.body.clientSecret),
    )
    const pub = await adminApi(t, 'PUT', '/clients/spa', {
      redirectUris: ['https://spa.example.test/cb'],
      tokenEndpointAuthMethod: 'none',
    })
    expect(pub.body.client.confidential).toBe(false)
    expect((await t.store.getClient('spa'))?.secretHash).toBeNull()
  })

  it('deleting a client revokes its sessions (reason client_deleted) with events; its tokens stop working', async () => {
    const user = await t.createUser('carol', 'carol password 1')
    const s = await signInTokens(t, user, { clientId: 'spa', scope: 'openid offline_access' })
    expect(s.status).toBe(200)
    const sid = decodeJwt(s.body.access_token).sid as string
    const r = await adminApi(t, 'DELETE', '/clients/spa')
    expect(r.status).toBe(200)
    expect(r.body).toStrictEqual({ id: 'spa', sessionsRevoked: 1 })
    expect(await t.store.getSession(sid)).toMatchObject({
      state: 'revoked',
      reason: 'client_deleted',
    })
    const [ev] = await t.store.listEvents({ type: 'session_revoked', sessionId: sid })
    expect(ev).toMatchObject({
      clientId: 'spa',
      userId: user.id,
      data: { reason: 'client_deleted', actor: API_ACTOR },
    })
    expect((await refresh(t, s.body.refresh_token, {}, 'spa')).status).toBe(401)
    expect(await isActive(t, s.body.access_token)).toBe(false)
    expect((await adminApi(t, 'GET', '/clients/spa')).status).toBe(404)
  })

  it('an API still used by a client cannot be deleted; once unused it can', async () => {
    await expectRefused(
      'DELETE',
      `/apis/${encodeURIComponent(NEW_API)}`,
      undefined,
      409,
      `API ${NEW_API} is still used by client report-worker; remove it from their audiences and resourceServerFor first`,
    )
    expect((await adminApi(t, 'DELETE', '/clients/report-worker')).status).toBe(200)
    const r = await adminApi(t, 'DELETE', `/apis/${encodeURIComponent(NEW_API)}`)
    expect(r.status).toBe(200)
    expect(await t.store.getApi(NEW_API)).toBeUndefined()
    expect((await t.store.listEvents({ type: 'api_deleted' }))[0]?.data).toStrictEqual({
      audience: NEW_API,
      actor: API_ACTOR,
    })
  })

  const MANAGED =
    'client web-app is declared in the configuration file, which is re-applied on every start; change it there'
  it.each([
    [
      'POST',
      '/clients',
      { id: 'web-app', redirectUris: ['https://x.example.test/cb'] },
      409,
      MANAGED,
    ],
    ['PUT', '/clients/web-app', { redirectUris: ['https://x.example.test/cb'] }, 409, MANAGED],
    ['DELETE', '/clients/web-app', undefined, 409, MANAGED],
    ['POST', '/clients/web-app/secret', undefined, 409, MANAGED],
    [
      'POST',
      '/clients',
      { id: 'other-app-2', redirectUris: ['https://x.example.test/cb#frag'] },
      400,
      'redirectUris[0]: must not contain a fragment',
    ],
    [
      'POST',
      '/clients',
      { id: 'w', redirectUris: ['http://x.example.test/cb'] },
      400,
      'redirectUris[0]: must use https (http is allowed only for loopback addresses)',
    ],
    [
      'POST',
      '/clients',
      { id: 'usr_abc', redirectUris: ['https://x.example.test/cb'] },
      400,
      'id: must not start with usr_ (reserved for user subjects)',
    ],
    [
      'POST',
      '/clients',
      { id: 'bad id' },
      400,
      'id: must be 1 to 128 characters of A-Z a-z 0-9 . _ ~ -',
    ],
    ['POST', '/clients', { redirectUris: [] }, 400, 'id is required'],
    [
      'POST',
      '/clients',
      { id: 'w', redirectUris: [] },
      400,
      'redirectUris: needs at least one URI for authorization_code',
    ],
    [
      'POST',
      '/clients',
      { id: 'w', grantTypes: ['client_credentials'] },
      400,
      'grantTypes: client_credentials needs a confidential client',
    ],
    [
      'POST',
      '/clients',
      { id: 'w', grantTypes: ['password'] },
      400,
      'grantTypes[0]: must be one of authorization_code, refresh_token, client_credentials',
    ],
    [
      'POST',
      '/clients',
      {
        id: 'w',
        redirectUris: ['https://x.example.test/cb'],
        audiences: ['https://unknown.example.test'],
      },
      400,
      'audiences[0]: names no configured API (https://unknown.example.test)',
    ],
    [
      'POST',
      '/clients',
      { id: 'w', redirectUris: ['https://x.example.test/cb'], sessionIdleSeconds: 10 },
      400,
      'sessionIdleSeconds: must be a whole number from 60 to 31536000',
    ],
    [
      'POST',
      '/clients',
      { id: 'w', redirectUris: ['https://x.example.test/cb'], secret: 'x'.repeat(40) },
      400,
      'unknown field secret',
    ],
    [
      'POST',
      '/clients',
      { id: 'w', tokenEndpointAuthMethod: 'private_key_jwt' },
      400,
      'tokenEndpointAuthMethod: must be one of none, client_secret_basic, client_secret_post',
    ],
    [
      'POST',
      '/clients',
      {
        id: 'w',
        redirectUris: Array.from({ length: 101 }, (_, i) => `https://x.example.test/${i}`),
      },
      400,
      'redirectUris: must have at most 100 entries',
    ],
    ['POST', '/clients', { id: 'w', name: '' }, 400, 'name: must be 1 to 200 characters'],
    [
      'POST',
      '/clients',
      { id: 'w', redirectUris: ['https://x.example.test/cb'], refreshTokenDelivery: 'cookie' },
      400,
      'webOrigins: must list the app origins for cookie delivery',
    ],
    [
      'POST',
      '/clients',
      { id: 'w', redirectUris: ['https://x.example.test/cb'], refreshTokenDelivery: 'jar' },
      400,
      'refreshTokenDelivery: must be one of body, cookie',
    ],
    [
      'PUT',
      '/clients/confidential-app',
      { id: 'other' },
      400,
      'id: must be the id in the path (a client cannot be renamed)',
    ],
    [
      'PUT',
      '/clients/nope',
      { redirectUris: ['https://x.example.test/cb'] },
      404,
      'no client nope',
    ],
    ['DELETE', '/clients/nope', undefined, 404, 'no client nope'],
    ['POST', '/clients/nope/secret', undefined, 404, 'no client nope'],
  ])('%s %s %j is %i and changes nothing', async (method, path, body, status, description) => {
    await expectRefused(method, path, body, status, description)
  })

  // REL-15: one range for each grace knob, the configuration file's, with the same message.
  it.each([
    ['refreshGraceSeconds', -1, 'must be a whole number from 0 to 300'],
    ['refreshGraceSeconds', 301, 'must be a whole number from 0 to 300'],
    ['refreshGraceMaxUses', -1, 'must be a whole number from 0 to 10000'],
    ['refreshGraceMaxUses', 10_001, 'must be a whole number from 0 to 10000'],
    ['refreshGraceMaxUses', 1_000_000, 'must be a whole number from 0 to 10000'],
  ])(
    'REL-15 %s %i is refused by the Admin API as by the configuration file',
    async (field, v, m) => {
      const input = { id: 'g', redirectUris: ['https://g.example.test/cb'], [field]: v }
      await expectRefused('POST', '/clients', input, 400, `${field}: ${m}`)
      expect(() =>
        resolveConfig({
          issuer: 'https://a.example.test',
          secret: 'x'.repeat(32),
          clients: [input],
        }),
      ).toThrow(new ConfigError(`clients[0].${field}`, m))
    },
  )

  it('REL-15 the ends of both grace ranges are accepted and stored; unset means the defaults of the type', async () => {
    for (const [id, extra] of [
      ['g-min', { refreshGraceSeconds: 0, refreshGraceMaxUses: 0 }],
      ['g-max', { refreshGraceSeconds: 300, refreshGraceMaxUses: 10_000 }],
      ['g-unset', {}],
    ] as const) {
      const r = await adminApi(t, 'POST', '/clients', {
        id,
        redirectUris: ['https://g.example.test/cb'],
        ...extra,
      })
      expect(r.status, JSON.stringify(r.body)).toBe(201)
      const stored = (await t.store.getClient(id))!
      expect([stored.refreshGraceSeconds, stored.refreshGraceMaxUses]).toStrictEqual([
        'refreshGraceSeconds' in extra ? extra.refreshGraceSeconds : undefined,
        'refreshGraceMaxUses' in extra ? extra.refreshGraceMaxUses : undefined,
      ])
    }
  })

  it('a public client has no secret to rotate', async () => {
    await adminApi(t, 'POST', '/clients', {
      id: 'pub',
      redirectUris: ['https://pub.example.test/cb'],
    })
    await expectRefused(
      'POST',
      '/clients/pub/secret',
      undefined,
      409,
      'client pub is public: it has no secret',
    )
  })
})
