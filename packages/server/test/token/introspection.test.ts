import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { UserRecord } from '../../src/store/types.js'
import {
  basicAuth,
  mintCode,
  postForm,
  sessionOf,
  signInTokens,
  codeForm,
} from '../helpers/grants.js'
import { ConfigError } from '../../src/config/config.js'
import { resolveConfig } from '../../src/config/resolve.js'
import {
  API_A,
  API_B,
  CONFIDENTIAL_SECRET,
  startTestServer,
  type TestServer,
} from '../helpers/test-server.js'
import {
  confidentialAuth,
  expectOAuthError,
  introspect,
  judge,
  POST_SECRET,
  RS_SECRET,
  sidOf,
  startTokenServer,
  tokenClients,
} from './fixtures.js'

let t: TestServer
let alice: UserRecord
beforeAll(async () => {
  t = await startTokenServer()
  alice = await t.createUser('alice')
})
afterAll(async () => {
  await t.close()
})

/** The exact bytes RFC 7662 2.2 allows for an inactive token: nothing but `active: false`. */
async function expectBareInactive(server: TestServer, token: string): Promise<void> {
  const res = await fetch(`${server.url}/oauth/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...confidentialAuth() },
    body: new URLSearchParams({ token }),
  })
  expect(res.status).toBe(200)
  expect(res.headers.get('cache-control')).toBe('no-store')
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  expect(await res.text()).toBe('{"active":false}')
}

/** A session of confidential-app, which may introspect its own tokens (SES-12). */
async function confidentialSession(
  server: TestServer = t,
  user: UserRecord = alice,
  extra: Record<string, string> = {},
): Promise<{ access_token: string; refresh_token: string }> {
  const c = await mintCode(server, user, {
    clientId: 'confidential-app',
    scope: 'openid profile offline_access read',
  })
  const r = await postForm(`${server.url}/oauth/token`, codeForm(c, extra), confidentialAuth())
  expect(r.status, JSON.stringify(r.body)).toBe(200)
  return r.body
}

const asCaller = (token: string, auth: Record<string, string>) =>
  fetch(`${t.url}/oauth/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth },
    body: new URLSearchParams({ token }),
  })

describe('introspection (RFC 7662)', () => {
  it('active access and refresh tokens introspect with their claims', async () => {
    const s = await signInTokens(t, alice, { resource: API_A })
    const at = await introspect(t, s.body.access_token)
    expect(at.status).toBe(200)
    expect(at.headers.get('cache-control')).toBe('no-store')
    const claims = decodeJwt(s.body.access_token)
    expect(at.body).toMatchObject({
      active: true,
      token_type: 'Bearer',
      sub: alice.id,
      aud: API_A,
      client_id: 'web-app',
      scope: 'read',
      exp: claims.exp,
      sid: sidOf(s.body.refresh_token),
    })
    const own = await confidentialSession()
    const rt = await introspect(t, own.refresh_token)
    expect(rt.body).toMatchObject({
      active: true,
      token_type: 'refresh_token',
      client_id: 'confidential-app',
      sub: alice.id,
      sid: sidOf(own.refresh_token),
    })
  })

  it('SES-11 an access token introspects active 1 ms before exp and bare inactive at exp', async () => {
    const s = await confidentialSession()
    const exp = decodeJwt(s.access_token).exp! * 1000
    t.clock.set(exp - 1)
    expect((await introspect(t, s.access_token)).body.active).toBe(true)
    t.clock.set(exp)
    await expectBareInactive(t, s.access_token)
    // The session itself is still live: its refresh token is not affected by an AT's expiry.
    expect((await introspect(t, s.refresh_token)).body.active).toBe(true)
  })

  it('SES-11 revoked access and refresh tokens introspect bare inactive', async () => {
    const s = await confidentialSession()
    expect((await introspect(t, s.refresh_token)).body.active).toBe(true)
    const r = await postForm(
      `${t.url}/oauth/revoke`,
      { token: s.refresh_token },
      confidentialAuth(),
    )
    expect(r.status).toBe(200)
    await expectBareInactive(t, s.access_token)
    await expectBareInactive(t, s.refresh_token)
  })

  it('SES-11 a consumed (rotated-away) refresh token introspects bare inactive, even in the grace window', async () => {
    const s = await confidentialSession()
    const again = (token: string) =>
      postForm(
        `${t.url}/oauth/token`,
        { grant_type: 'refresh_token', refresh_token: token },
        confidentialAuth(),
      )
    const r1 = await again(s.refresh_token)
    expect(r1.status).toBe(200)
    await expectBareInactive(t, s.refresh_token)
    expect((await introspect(t, r1.body.refresh_token)).body.active).toBe(true)
    // The previous token still works for a retry: introspection did not count as a use.
    const retry = await again(s.refresh_token)
    expect(retry.body.refresh_token).toBe(r1.body.refresh_token)
    expect((await sessionOf(t, sidOf(s.refresh_token))).graceUses).toBe(1)
  })

  it('SES-11 a refresh token of an idle or expired session introspects bare inactive', async () => {
    const s = await signInTokens(t, alice, {
      clientId: 'short-app',
      scope: 'openid offline_access',
    })
    // short-app is public: nobody may introspect its tokens over HTTP, so this reads the answer
    // the endpoint would give a caller that may.
    t.clock.advance(600_000 - 1)
    expect((await judge(t, s.body.refresh_token)).active).toBe(true)
    t.clock.advance(1)
    expect(await judge(t, s.body.refresh_token)).toStrictEqual({ active: false })
    expect(await judge(t, s.body.access_token)).toStrictEqual({ active: false })
  })

  const unknown: [string, string][] = [
    ['random text', 'not-a-token'],
    ['an unknown refresh token', `tsr_${'A'.repeat(22)}.0.${'B'.repeat(43)}`],
    ['an authorization code', 'Q'.repeat(43)],
    ['a JWT-shaped garbage string', 'eyJhbGciOiJFUzI1NiJ9.eyJ9.x'],
    [
      'an unsigned (alg none) at+jwt',
      `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.`,
    ],
    ['16 KB of text', 'g'.repeat(16_384)],
  ]
  it.each(unknown)('SES-11 %s introspects bare inactive', async (_name, token) => {
    await expectBareInactive(t, token)
  })

  it('SES-11 a consumed authorization code introspects bare inactive', async () => {
    const c = await mintCode(t, alice)
    const r = await postForm(`${t.url}/oauth/token`, codeForm(c, { client_id: 'web-app' }))
    expect(r.status).toBe(200)
    await expectBareInactive(t, c.code)
  })

  it('SES-11 an ID token is not an access token and introspects bare inactive', async () => {
    const s = await signInTokens(t, alice)
    expect(s.body.id_token).toEqual(expect.any(String))
    await expectBareInactive(t, s.body.id_token)
  })

  it('SES-12 unauthenticated introspection is 401 invalid_client', async () => {
    const s = await signInTokens(t, alice)
    const token = s.body.access_token as string
    const url = `${t.url}/oauth/introspect`
    const cases: [Record<string, string>, Record<string, string>, string, string | null][] = [
      [{ token }, {}, 'client authentication is required', null],
      [{ token, client_id: 'web-app' }, {}, 'introspection requires client authentication', null],
      [{ token, client_id: 'confidential-app' }, {}, 'client authentication is required', null],
      [
        { token },
        basicAuth('confidential-app', `${CONFIDENTIAL_SECRET}x`),
        'client authentication failed',
        'Basic realm="tessera", charset="UTF-8"',
      ],
      [
        { token },
        basicAuth('nobody', CONFIDENTIAL_SECRET),
        'client authentication failed',
        'Basic realm="tessera", charset="UTF-8"',
      ],
    ]
    for (const [form, headers, desc, wwwAuth] of cases) {
      const r = await postForm(url, form, headers)
      expectOAuthError(r, 401, 'invalid_client', desc)
      expect(r.headers.get('www-authenticate')).toBe(wwwAuth)
      expect(r.body.active).toBeUndefined()
    }
    // A confidential client with client_secret_post may introspect (its own token).
    const c = await mintCode(t, alice, { clientId: 'post-app', scope: 'openid offline_access' })
    const own = await postForm(`${t.url}/oauth/token`, codeForm(c, { client_secret: POST_SECRET }))
    expect(own.status).toBe(200)
    const ok = await postForm(url, {
      token: own.body.access_token as string,
      client_id: 'post-app',
      client_secret: POST_SECRET,
    })
    expect(ok.body).toMatchObject({ active: true, client_id: 'post-app' })
  })

  it('SES-12 token scanning is rate limited per caller: 429 with Retry-After after the threshold', async () => {
    const s = await startTestServer({
      clients: tokenClients,
      config: {
        throttle: {
          invalidGrantPerIp: { limit: 5, windowSeconds: 60 },
          invalidGrantPerClient: { limit: 1000, windowSeconds: 60 },
        },
      },
    })
    try {
      const bob = await s.createUser('bob')
      const live = await signInTokens(s, bob, { resource: API_A })
      // Active answers do not count.
      for (let i = 0; i < 8; i++) {
        expect((await introspect(s, live.body.access_token)).body.active).toBe(true)
      }
      for (let i = 0; i < 5; i++) await expectBareInactive(s, `tsr_guess-${i}`)
      const limited = await introspect(s, `tsr_guess-5`)
      expectOAuthError(
        limited,
        429,
        'temporarily_unavailable',
        'too many failed attempts, retry later',
      )
      expect(limited.headers.get('retry-after')).toBe('60')
      // Once throttled, even a live token gets no answer until the window ends.
      expect((await introspect(s, live.body.access_token)).status).toBe(429)
      s.clock.advance(60_000 - 1)
      const late = await introspect(s, live.body.access_token)
      expect(late.status).toBe(429)
      expect(late.headers.get('retry-after')).toBe('1')
      s.clock.advance(1)
      expect((await introspect(s, live.body.access_token)).body.active).toBe(true)
    } finally {
      await s.close()
    }
  })

  it('SES-12 a refresh token introspects for its own client only; anyone else gets exactly {"active":false}', async () => {
    const s = await confidentialSession()
    const own = await asCaller(s.refresh_token, confidentialAuth())
    expect(await own.json()).toMatchObject({ active: true, client_id: 'confidential-app' })
    for (const auth of [basicAuth('api-rs', RS_SECRET), basicAuth('api-a-rs', RS_SECRET)]) {
      const r = await asCaller(s.refresh_token, auth)
      expect(r.status).toBe(200)
      expect(r.headers.get('cache-control')).toBe('no-store')
      expect(await r.text()).toBe('{"active":false}')
    }
    const post = await postForm(`${t.url}/oauth/introspect`, {
      token: s.refresh_token,
      client_id: 'post-app',
      client_secret: POST_SECRET,
    })
    expect([post.status, post.body]).toStrictEqual([200, { active: false }])
  })

  it('SES-12 an access token introspects for its client and the resource servers of its audience only', async () => {
    // web-app (public) gets a token for API B: its resource server api-rs sees it; api-a-rs (API A
    // only) and confidential-app (another client) do not.
    const web = await signInTokens(t, alice, { resource: API_B, scope: 'openid orders' })
    expect(web.status).toBe(200)
    const b = web.body.access_token as string
    const claims = decodeJwt(b)
    expect(await (await asCaller(b, basicAuth('api-rs', RS_SECRET))).json()).toStrictEqual({
      active: true,
      token_type: 'Bearer',
      ...claims,
    })
    for (const auth of [basicAuth('api-a-rs', RS_SECRET), confidentialAuth()]) {
      expect(await (await asCaller(b, auth)).text()).toBe('{"active":false}')
    }
    // confidential-app's token for API A: itself and both resource servers of API A see it.
    const conf = await confidentialSession(t, alice, { resource: API_A })
    for (const auth of [
      confidentialAuth(),
      basicAuth('api-rs', RS_SECRET),
      basicAuth('api-a-rs', RS_SECRET),
    ]) {
      expect(await (await asCaller(conf.access_token, auth)).json()).toMatchObject({
        active: true,
        client_id: 'confidential-app',
        aud: API_A,
      })
    }
    // Its token for the issuer itself: no resource server but this one, so only its client.
    const issuerToken = (await confidentialSession()).access_token
    expect((await (await asCaller(issuerToken, confidentialAuth())).json()).active).toBe(true)
    for (const auth of [basicAuth('api-rs', RS_SECRET), basicAuth('api-a-rs', RS_SECRET)]) {
      expect(await (await asCaller(issuerToken, auth)).text()).toBe('{"active":false}')
    }
  })

  it('SES-12 resourceServerFor names configured APIs and needs a confidential client', () => {
    const base = {
      issuer: 'https://a.example.test',
      secret: 'x'.repeat(32),
      apis: [{ audience: API_A }],
    }
    expect(() =>
      resolveConfig({
        ...base,
        clients: [{ id: 'rs', resourceServerFor: [API_A], grantTypes: ['refresh_token'] }],
      }),
    ).toThrow(
      new ConfigError(
        'clients[0].resourceServerFor',
        'needs a confidential client (a resource server authenticates to introspect)',
      ),
    )
    expect(() =>
      resolveConfig({
        ...base,
        clients: [
          {
            id: 'rs',
            secret: RS_SECRET,
            grantTypes: ['client_credentials'],
            resourceServerFor: [API_B],
          },
        ],
      }),
    ).toThrow(
      new ConfigError('clients[0].resourceServerFor[0]', `names no configured API (${API_B})`),
    )
  })
})
