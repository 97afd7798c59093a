/**
 * Cookie delivery of refresh tokens (`refreshTokenDelivery: 'cookie'`): the token endpoint sets
 * the refresh token as an HttpOnly SameSite=Strict cookie and leaves it out of the JSON, reads it
 * back for refreshes without `refresh_token`, answers only the client's web origins with
 * credentialed CORS, refuses cookie requests from anywhere else (changing nothing), and the
 * revocation endpoint revokes the cookie's token and clears it. Rotation, the grace window and
 * reuse detection work through the cookie unchanged. Everything runs against a real server on
 * loopback with its SQLite file, and refusals are checked against the database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClientConfig } from '../../src/config/config.js'
import { ConfigError } from '../../src/config/config.js'
import { resolveConfig, type ConfigInput } from '../../src/config/resolve.js'
import type { UserRecord } from '../../src/store/types.js'
import { mintCode, postForm, sessionOf, codeForm } from '../helpers/grants.js'
import { API_A, startTestServer, TEST_SECRET, type TestServer } from '../helpers/test-server.js'
import {
  dbCounts,
  expectOAuthError,
  type FormResponse,
  LENIENT_THROTTLE,
  NO_LONGER_VALID,
  refresh,
  sidOf,
  tokenClients,
} from './fixtures.js'

/** The app, and a second app of the same client, on other ports of the issuer's host: same site. */
const APP = 'http://127.0.0.1:3000'
const APP2 = 'http://127.0.0.1:3001'
/** Same site too (a sibling), but not registered: the CSRF attacker these checks stop. */
const SIBLING = 'http://127.0.0.1:4444'
const HEADER = 'tessera-refresh-cookie'

const cookieClient = (o: Partial<ClientConfig> = {}): ClientConfig => ({
  id: 'cookie-app',
  redirectUris: [`${APP}/callback`],
  webOrigins: [APP, APP2],
  refreshTokenDelivery: 'cookie',
  audiences: [API_A],
  scopes: ['openid', 'offline_access', 'read'],
  ...o,
})

let t: TestServer
let alice: UserRecord
beforeAll(async () => {
  t = await startTestServer({
    clients: [...tokenClients, cookieClient()],
    config: { throttle: LENIENT_THROTTLE },
  })
  alice = await t.createUser('alice')
})
afterAll(async () => {
  await t.close()
})

interface SetCookie {
  name: string
  value: string
  attributes: string[]
}

/** The one Set-Cookie of a response, parsed; fails when there is none or several. */
function setCookieOf(r: { headers: Headers }): SetCookie {
  const all = r.headers.getSetCookie()
  expect(all).toHaveLength(1)
  const [pair, ...attributes] = all[0]!.split('; ')
  const eq = pair!.indexOf('=')
  return { name: pair!.slice(0, eq), value: pair!.slice(eq + 1), attributes }
}

const cookieHeaders = (origin = APP, cookie?: string): Record<string, string> => ({
  origin,
  [HEADER]: '1',
  ...(cookie !== undefined ? { cookie } : {}),
})

/** The code exchange of cookie-app from `origin`. */
async function exchange(origin = APP, headers = cookieHeaders(origin)): Promise<FormResponse> {
  const c = await mintCode(t, alice, { clientId: 'cookie-app' })
  return postForm(`${t.url}/oauth/token`, codeForm(c, { client_id: 'cookie-app' }), headers)
}

/** A refresh of cookie-app with `cookie` (name=value) from `origin`. */
function cookieRefresh(
  cookie: SetCookie | string | undefined,
  o: { origin?: string; headers?: Record<string, string>; form?: Record<string, string> } = {},
): Promise<FormResponse> {
  const header =
    cookie === undefined ? undefined : typeof cookie === 'string' ? cookie : pairOf(cookie)
  return postForm(
    `${t.url}/oauth/token`,
    { grant_type: 'refresh_token', client_id: 'cookie-app', ...o.form },
    o.headers ?? cookieHeaders(o.origin ?? APP, header),
  )
}

const pairOf = (c: SetCookie) => `${c.name}=${c.value}`

/** A signed-in cookie-app session: its cookie and session id. */
async function signedIn(origin = APP): Promise<{ cookie: SetCookie; sid: string }> {
  const r = await exchange(origin)
  expect(r.status).toBe(200)
  const cookie = setCookieOf(r)
  return { cookie, sid: sidOf(cookie.value) }
}

describe('configuration', () => {
  const base = (
    client: Partial<ClientConfig>,
    issuer = 'https://auth.example.com',
  ): ConfigInput => ({
    issuer,
    secret: TEST_SECRET,
    clients: [
      {
        id: 'spa',
        redirectUris: ['https://app.example.com/callback'],
        refreshTokenDelivery: 'cookie',
        webOrigins: ['https://app.example.com'],
        ...client,
      },
    ],
  })
  const errorOf = (input: ConfigInput): ConfigError | undefined => {
    try {
      resolveConfig(input)
      return undefined
    } catch (err) {
      if (err instanceof ConfigError) return err
      throw err
    }
  }

  it.each<[string, ConfigInput, string]>([
    [
      'an unknown delivery',
      base({ refreshTokenDelivery: 'header' as never }),
      'clients[0].refreshTokenDelivery: must be body or cookie',
    ],
    [
      'cookie delivery without web origins',
      base({ webOrigins: [] }),
      'clients[0].webOrigins: must list the app origins for cookie delivery',
    ],
    [
      'a confidential client',
      base({ secret: 'x'.repeat(32) }),
      'clients[0].refreshTokenDelivery: cookie delivery is for public browser apps (tokenEndpointAuthMethod none)',
    ],
    [
      'a native client',
      base({ applicationType: 'native' }),
      'clients[0].refreshTokenDelivery: cookie delivery is for public browser apps (applicationType web)',
    ],
    [
      'no refresh_token grant',
      base({ grantTypes: ['authorization_code'] }),
      'clients[0].refreshTokenDelivery: needs the refresh_token grant',
    ],
    [
      'an origin with a path',
      base({ webOrigins: ['https://app.example.com/'] }),
      'clients[0].webOrigins[0]: must be an origin exactly as browsers send it (https://app.example.com), without path, query or fragment',
    ],
    [
      'an origin with a default port',
      base({ webOrigins: ['https://app.example.com:443'] }),
      'clients[0].webOrigins[0]: must be an origin exactly as browsers send it (https://app.example.com), without path, query or fragment',
    ],
    [
      'plain http off loopback',
      base({ refreshTokenDelivery: 'body', webOrigins: ['http://app.example.com'] }),
      'clients[0].webOrigins[0]: must use https (http only on loopback or in development)',
    ],
    [
      'not an URL',
      base({ webOrigins: ['app.example.com'] }),
      'clients[0].webOrigins[0]: must be an origin (scheme://host[:port])',
    ],
    [
      'an origin listed twice',
      base({ webOrigins: ['https://app.example.com', 'https://app.example.com'] }),
      'clients[0].webOrigins[1]: is listed twice',
    ],
    [
      'another site',
      base({ webOrigins: ['https://app.example.org'] }),
      'clients[0].webOrigins[0]: is not same-site with the issuer: the browser would not send the SameSite=Strict refresh cookie',
    ],
    [
      'another scheme',
      base({ webOrigins: ['http://127.0.0.1:3000'] }, 'https://127.0.0.1:4000'),
      "clients[0].webOrigins[0]: must use the issuer's scheme (https:): a SameSite=Strict cookie is not sent across schemes",
    ],
  ])('%s is refused', (_name, input, message) => {
    expect(errorOf(input)?.message).toBe(`invalid configuration: ${message}`)
  })

  it('same-site origins on other subdomains or ports are accepted, and body delivery is the default', () => {
    const c = resolveConfig(
      base({
        webOrigins: [
          'https://app.example.com',
          'https://example.com',
          'https://x.y.example.com:8443',
        ],
      }),
    )
    expect(c.clients[0]).toMatchObject({ refreshTokenDelivery: 'cookie' })
    const d = resolveConfig(base({ refreshTokenDelivery: undefined, webOrigins: undefined }))
    expect(d.clients[0]?.refreshTokenDelivery).toBe('body')
  })

  it('the client record keeps the delivery and the origins', async () => {
    expect(await t.store.getClient('cookie-app')).toMatchObject({
      refreshTokenDelivery: 'cookie',
      webOrigins: [APP, APP2],
    })
    expect((await t.store.getClient('web-app'))?.refreshTokenDelivery).toBeUndefined()
  })
})

describe('SDK-05 the code exchange sets the refresh cookie', () => {
  it('SES-03 the refresh token is an HttpOnly SameSite=Strict cookie for the session lifetime, and not in the JSON', async () => {
    const r = await exchange()
    expect(r.status).toBe(200)
    expect(Object.keys(r.body).sort()).toEqual(
      [
        'access_token',
        'expires_in',
        'id_token',
        'refresh_token_expires_in',
        'scope',
        'token_type',
      ].sort(),
    )
    expect(JSON.stringify(r.body)).not.toContain('tsr_')
    const c = setCookieOf(r)
    expect(c.name).toMatch(/^tessera_rt_cookie-app_[A-Za-z0-9_-]{12}$/)
    expect(c.value).toMatch(/^tsr_/)
    expect(c.attributes).toEqual([
      'Path=/',
      'HttpOnly',
      'SameSite=Strict',
      `Max-Age=${r.body.refresh_token_expires_in}`,
    ])
    // Plain http cannot carry Secure; the https variant is below.
    expect(r.body.refresh_token_expires_in).toBe(14 * 86_400)
    const session = await sessionOf(t, sidOf(c.value))
    expect(session).toMatchObject({ clientId: 'cookie-app', generation: 0, state: 'active' })
    expect(r.headers.get('access-control-allow-origin')).toBe(APP)
    expect(r.headers.get('access-control-allow-credentials')).toBe('true')
    expect(r.headers.get('cache-control')).toBe('no-store')
  })

  it('SES-03 with an https issuer the cookie is __Host- prefixed and Secure', async () => {
    const https = await startTestServer({
      clients: [
        cookieClient({
          redirectUris: ['https://app.example.test/callback'],
          webOrigins: ['https://app.example.test'],
        }),
      ],
      config: { issuer: 'https://auth.example.test' },
    })
    try {
      const user = await https.createUser('bob')
      const c = await mintCode(https, user, { clientId: 'cookie-app' })
      const r = await postForm(
        `${https.url}/oauth/token`,
        codeForm(c, { client_id: 'cookie-app' }),
        { origin: 'https://app.example.test', [HEADER]: '1' },
      )
      expect(r.status).toBe(200)
      const cookie = setCookieOf(r)
      expect(cookie.name).toMatch(/^__Host-tessera_rt_cookie-app_[A-Za-z0-9_-]{12}$/)
      expect(cookie.attributes).toEqual([
        'Path=/',
        'HttpOnly',
        'SameSite=Strict',
        'Secure',
        `Max-Age=${r.body.refresh_token_expires_in}`,
      ])
      expect(r.body.refresh_token).toBeUndefined()
    } finally {
      await https.close()
    }
  })

  it('each web origin of a client has its own cookie, so two apps do not replace each other', async () => {
    const a = await signedIn(APP)
    const b = await signedIn(APP2)
    expect(a.cookie.name).not.toBe(b.cookie.name)
    // Each origin's cookie is read only for that origin.
    expectOAuthError(
      await cookieRefresh(pairOf(a.cookie), { origin: APP2 }),
      400,
      'invalid_grant',
      'there is no refresh token cookie',
    )
    expect((await cookieRefresh(a.cookie, { origin: APP })).status).toBe(200)
    expect((await cookieRefresh(b.cookie, { origin: APP2 })).status).toBe(200)
  })

  it('a client with body delivery is unchanged: the refresh token in the JSON, no cookie, CORS without credentials', async () => {
    const c = await mintCode(t, alice)
    const r = await postForm(`${t.url}/oauth/token`, codeForm(c, { client_id: 'web-app' }), {
      origin: APP,
    })
    expect(r.status).toBe(200)
    expect(r.body.refresh_token).toMatch(/^tsr_/)
    expect(r.headers.getSetCookie()).toEqual([])
    // APP is a credentialed origin (of cookie-app), so it is answered by name; a body-mode
    // request from it reads the same JSON, and the cookie-less request changes nothing.
    expect(r.headers.get('access-control-allow-origin')).toBe(APP)
    const other = await refresh(t, r.body.refresh_token, {}, 'web-app')
    expect(other.status).toBe(200)
    expect(other.headers.getSetCookie()).toEqual([])
  })
})

describe('refresh through the cookie', () => {
  it('RT-01 a refresh without refresh_token reads the cookie, rotates, and sets the successor as the cookie', async () => {
    const { cookie, sid } = await signedIn()
    const r = await cookieRefresh(cookie, { form: { resource: API_A } })
    expect(r.status).toBe(200)
    expect(r.body.refresh_token).toBeUndefined()
    expect(r.body.access_token).toMatch(/^ey/)
    expect(r.body.scope).toBe('read')
    const next = setCookieOf(r)
    expect(next.name).toBe(cookie.name)
    expect(next.value).not.toBe(cookie.value)
    expect(sidOf(next.value)).toBe(sid)
    expect(next.attributes).toContain('HttpOnly')
    expect((await sessionOf(t, sid)).generation).toBe(1)
    expect(r.headers.get('access-control-allow-origin')).toBe(APP)
    expect(r.headers.get('access-control-allow-credentials')).toBe('true')
    expect(r.headers.get('vary')).toBe('Origin')
    // And again with the successor.
    const r2 = await cookieRefresh(next)
    expect(r2.status).toBe(200)
    expect((await sessionOf(t, sid)).generation).toBe(2)
  })

  it('RT-04 the previous cookie inside the grace window (a lost response) returns the same current cookie', async () => {
    const { cookie, sid } = await signedIn()
    const first = setCookieOf(await cookieRefresh(cookie))
    const retry = await cookieRefresh(cookie)
    expect(retry.status).toBe(200)
    expect(setCookieOf(retry).value).toBe(first.value)
    const row = await sessionOf(t, sid)
    expect(row).toMatchObject({ generation: 1, graceUses: 1, state: 'active' })
  })

  it('RT-03 reuse through the cookie (a grandparent token) revokes the session', async () => {
    const { cookie, sid } = await signedIn()
    const gen1 = setCookieOf(await cookieRefresh(cookie))
    const gen2 = setCookieOf(await cookieRefresh(gen1))
    expect((await sessionOf(t, sid)).generation).toBe(2)
    const before = dbCounts(t)
    expectOAuthError(await cookieRefresh(cookie), 400, 'invalid_grant', NO_LONGER_VALID)
    const row = await sessionOf(t, sid)
    expect(row).toMatchObject({ state: 'revoked', reason: 'refresh_token_reuse' })
    expect(dbCounts(t).events).toBe(before.events + 1)
    const events = await t.store.listEvents({ sessionId: sid })
    expect(events.find((e) => e.type === 'refresh_token_reuse')?.data).toMatchObject({
      cause: 'stale_lineage',
      presentedGeneration: 0,
      currentGeneration: 2,
    })
    // The family is dead: the current cookie is refused too.
    expectOAuthError(await cookieRefresh(gen2), 400, 'invalid_grant', NO_LONGER_VALID)
  })

  it('a refresh without a cookie is invalid_grant and changes nothing', async () => {
    const before = dbCounts(t)
    const r = await cookieRefresh(undefined)
    expectOAuthError(r, 400, 'invalid_grant', 'there is no refresh token cookie')
    expect(r.headers.getSetCookie()).toEqual([])
    expect(dbCounts(t)).toEqual(before)
  })

  describe('CSRF: a cookie request from anywhere but a registered web origin changes nothing', () => {
    const cases: [
      string,
      (c: string) => { headers: Record<string, string>; form?: Record<string, string> },
      string,
      number,
      string,
    ][] = [
      [
        'no Origin header',
        (c) => ({ headers: { [HEADER]: '1', cookie: c } }),
        'the Origin header is required with cookie delivery',
        400,
        'invalid_request',
      ],
      [
        'Origin: null (a sandboxed frame or a redirect)',
        (c) => ({ headers: { origin: 'null', [HEADER]: '1', cookie: c } }),
        'the Origin header is required with cookie delivery',
        400,
        'invalid_request',
      ],
      [
        'a same-site sibling origin that is not registered',
        (c) => ({ headers: { origin: SIBLING, [HEADER]: '1', cookie: c } }),
        `origin ${SIBLING} is not a web origin of this client`,
        400,
        'invalid_request',
      ],
      [
        'a cross-site origin',
        (c) => ({ headers: { origin: 'https://evil.example', [HEADER]: '1', cookie: c } }),
        'origin https://evil.example is not a web origin of this client',
        400,
        'invalid_request',
      ],
      [
        `no ${HEADER} header (a form post)`,
        (c) => ({ headers: { origin: APP, cookie: c } }),
        `the ${HEADER}: 1 header is required with cookie delivery`,
        400,
        'invalid_request',
      ],
      [
        `${HEADER}: 0`,
        (c) => ({ headers: { origin: APP, [HEADER]: '0', cookie: c } }),
        `the ${HEADER}: 1 header is required with cookie delivery`,
        400,
        'invalid_request',
      ],
      [
        'a refresh_token in the body',
        (c) => ({
          headers: { origin: APP, [HEADER]: '1', cookie: c },
          form: { refresh_token: c.slice(c.indexOf('=') + 1) },
        }),
        "refresh_token must not be sent: this client's refresh token is in a cookie",
        400,
        'invalid_request',
      ],
      [
        'the cookie twice',
        (c) => ({ headers: { origin: APP, [HEADER]: '1', cookie: `${c}; ${c}` } }),
        'the refresh token cookie was sent twice',
        400,
        'invalid_request',
      ],
    ]
    it.each(cases)('%s', async (_name, make, description, status, error) => {
      const { cookie, sid } = await signedIn()
      const before = { row: await sessionOf(t, sid), counts: dbCounts(t) }
      const r = await cookieRefresh(undefined, make(pairOf(cookie)))
      expectOAuthError(r, status, error, description)
      expect(r.headers.getSetCookie()).toEqual([])
      expect(await sessionOf(t, sid)).toEqual(before.row)
      expect(dbCounts(t)).toEqual(before.counts)
      // The cookie still works from the app.
      expect((await cookieRefresh(cookie)).status).toBe(200)
    })

    it('a code exchange from an unregistered origin is refused before the code is used', async () => {
      const c = await mintCode(t, alice, { clientId: 'cookie-app' })
      const form = codeForm(c, { client_id: 'cookie-app' })
      const before = dbCounts(t)
      const r = await postForm(`${t.url}/oauth/token`, form, cookieHeaders(SIBLING))
      expectOAuthError(
        r,
        400,
        'invalid_request',
        `origin ${SIBLING} is not a web origin of this client`,
      )
      expect(r.headers.getSetCookie()).toEqual([])
      expect(dbCounts(t)).toEqual(before)
      // The code was not consumed: the app redeems it.
      const ok = await postForm(`${t.url}/oauth/token`, form, cookieHeaders(APP))
      expect(ok.status).toBe(200)
      expect(setCookieOf(ok).value).toMatch(/^tsr_/)
    })
  })
})

describe('CORS with credentials only for registered web origins', () => {
  const preflight = (path: string, origin: string) =>
    fetch(t.url + path, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': `content-type, ${HEADER}`,
      },
    })

  for (const path of ['/oauth/token', '/oauth/revoke']) {
    it(`${path}: a registered origin may send credentials and the header; others get * without them`, async () => {
      const ok = await preflight(path, APP)
      expect(ok.status).toBe(204)
      expect(ok.headers.get('access-control-allow-origin')).toBe(APP)
      expect(ok.headers.get('access-control-allow-credentials')).toBe('true')
      expect(ok.headers.get('access-control-allow-headers')).toBe(
        `authorization, content-type, dpop, ${HEADER}`,
      )
      expect(ok.headers.get('vary')).toBe('Origin')
      for (const origin of [SIBLING, 'https://evil.example', 'null']) {
        const no = await preflight(path, origin)
        expect(no.status).toBe(204)
        expect(no.headers.get('access-control-allow-origin')).toBe('*')
        expect(no.headers.get('access-control-allow-credentials')).toBeNull()
        expect(no.headers.get('access-control-allow-headers')).toBe(
          'authorization, content-type, dpop',
        )
        expect(no.headers.get('vary')).toBe('Origin')
      }
    })
  }

  it('errors are readable by the registered origin (credentialed), and by others without credentials', async () => {
    const r = await cookieRefresh('tessera_rt_x=1')
    expect(r.status).toBe(400)
    expect(r.headers.get('access-control-allow-origin')).toBe(APP)
    expect(r.headers.get('access-control-allow-credentials')).toBe('true')
    const other = await cookieRefresh(undefined, { origin: SIBLING })
    expect(other.headers.get('access-control-allow-origin')).toBe('*')
    expect(other.headers.get('access-control-allow-credentials')).toBeNull()
  })

  it('userinfo and the JWKS keep CORS without credentials', async () => {
    const res = await fetch(`${t.url}/.well-known/jwks.json`, { headers: { origin: APP } })
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    expect(res.headers.get('access-control-allow-credentials')).toBeNull()
  })
})

describe('SES-08 revocation with the cookie', () => {
  const revoke = (form: Record<string, string>, headers: Record<string, string>) =>
    postForm(`${t.url}/oauth/revoke`, { client_id: 'cookie-app', ...form }, headers)

  it('revokes the session of the cookie and clears the cookie', async () => {
    const { cookie, sid } = await signedIn()
    const r = await revoke({ token_type_hint: 'refresh_token' }, cookieHeaders(APP, pairOf(cookie)))
    expect(r.status).toBe(200)
    const cleared = setCookieOf(r)
    expect(cleared).toEqual({
      name: cookie.name,
      value: '',
      attributes: ['Path=/', 'HttpOnly', 'SameSite=Strict', 'Max-Age=0'],
    })
    expect(await sessionOf(t, sid)).toMatchObject({ state: 'revoked', reason: 'token_revocation' })
    expect(r.headers.get('access-control-allow-origin')).toBe(APP)
    expect(r.headers.get('access-control-allow-credentials')).toBe('true')
    expectOAuthError(await cookieRefresh(cookie), 400, 'invalid_grant', NO_LONGER_VALID)
  })

  it('without a cookie it answers 200 and clears it anyway', async () => {
    const before = dbCounts(t)
    const r = await revoke({}, cookieHeaders(APP))
    expect(r.status).toBe(200)
    expect(setCookieOf(r).attributes).toContain('Max-Age=0')
    expect(dbCounts(t)).toEqual(before)
  })

  it.each<[string, (c: string) => Record<string, string>, Record<string, string>, string]>([
    [
      'an unregistered origin',
      (c) => cookieHeaders(SIBLING, c),
      {},
      `origin ${SIBLING} is not a web origin of this client`,
    ],
    [
      `no ${HEADER} header`,
      (c) => ({ origin: APP, cookie: c }),
      {},
      `the ${HEADER}: 1 header is required with cookie delivery`,
    ],
    [
      'a token in the body',
      (c) => cookieHeaders(APP, c),
      { token: 'tsr_x' },
      "token must not be sent: this client's refresh token is in a cookie",
    ],
  ])(
    'CSRF: %s is refused, the session lives and the cookie stays',
    async (_n, headers, form, description) => {
      const { cookie, sid } = await signedIn()
      const before = dbCounts(t)
      const r = await revoke(form, headers(pairOf(cookie)))
      expectOAuthError(r, 400, 'invalid_request', description)
      expect(r.headers.getSetCookie()).toEqual([])
      expect((await sessionOf(t, sid)).state).toBe('active')
      expect(dbCounts(t)).toEqual(before)
    },
  )
})
