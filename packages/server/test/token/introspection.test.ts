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
import {
  API_A,
  CONFIDENTIAL_SECRET,
  startTestServer,
  type TestServer,
} from '../helpers/test-server.js'
import {
  confidentialAuth,
  expectOAuthError,
  introspect,
  POST_SECRET,
  refresh,
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
    const rt = await introspect(t, s.body.refresh_token)
    expect(rt.body).toMatchObject({
      active: true,
      token_type: 'refresh_token',
      client_id: 'web-app',
      sub: alice.id,
      sid: sidOf(s.body.refresh_token),
    })
  })

  it('SES-11 an access token introspects active 1 ms before exp and bare inactive at exp', async () => {
    const s = await signInTokens(t, alice)
    const exp = decodeJwt(s.body.access_token).exp! * 1000
    t.clock.set(exp - 1)
    expect((await introspect(t, s.body.access_token)).body.active).toBe(true)
    t.clock.set(exp)
    await expectBareInactive(t, s.body.access_token)
    // The session itself is still live: its refresh token is not affected by an AT's expiry.
    expect((await introspect(t, s.body.refresh_token)).body.active).toBe(true)
  })

  it('SES-11 revoked access and refresh tokens introspect bare inactive', async () => {
    const s = await signInTokens(t, alice)
    const r = await postForm(`${t.url}/oauth/revoke`, {
      token: s.body.refresh_token,
      client_id: 'web-app',
    })
    expect(r.status).toBe(200)
    await expectBareInactive(t, s.body.access_token)
    await expectBareInactive(t, s.body.refresh_token)
  })

  it('SES-11 a consumed (rotated-away) refresh token introspects bare inactive, even in the grace window', async () => {
    const s = await signInTokens(t, alice)
    const r1 = await refresh(t, s.body.refresh_token)
    expect(r1.status).toBe(200)
    await expectBareInactive(t, s.body.refresh_token)
    expect((await introspect(t, r1.body.refresh_token)).body.active).toBe(true)
    // The previous token still works for a retry: introspection did not count as a use.
    const retry = await refresh(t, s.body.refresh_token)
    expect(retry.body.refresh_token).toBe(r1.body.refresh_token)
    expect((await sessionOf(t, sidOf(s.body.refresh_token))).graceUses).toBe(1)
  })

  it('SES-11 a refresh token of an idle or expired session introspects bare inactive', async () => {
    const s = await signInTokens(t, alice, {
      clientId: 'short-app',
      scope: 'openid offline_access',
    })
    t.clock.advance(600_000 - 1)
    expect((await introspect(t, s.body.refresh_token)).body.active).toBe(true)
    t.clock.advance(1)
    await expectBareInactive(t, s.body.refresh_token)
    await expectBareInactive(t, s.body.access_token)
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
    // A confidential client with client_secret_post may introspect.
    const ok = await postForm(url, { token, client_id: 'post-app', client_secret: POST_SECRET })
    expect(ok.body.active).toBe(true)
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
      const live = await signInTokens(s, bob)
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
})
