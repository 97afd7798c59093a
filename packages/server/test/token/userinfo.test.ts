import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { UserRecord } from '../../src/store/types.js'
import { postForm, signInTokens } from '../helpers/grants.js'
import { withTyp } from '../helpers/retype.js'
import { API_A, type TestServer } from '../helpers/test-server.js'
import { confidentialAuth, startTokenServer, userinfo } from './fixtures.js'

let t: TestServer
let alice: UserRecord
beforeAll(async () => {
  t = await startTokenServer()
  alice = await t.createUser('alice')
})
afterAll(async () => {
  await t.close()
})

const INVALID_TOKEN =
  'Bearer realm="tessera", error="invalid_token", error_description="the access token is invalid or expired"'

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await fetch(t.url + path, { headers })
  const body: any = await res.json()
  return { status: res.status, headers: res.headers, body }
}

describe('userinfo', () => {
  it('an issuer access token gets the claims of its scope, never cached', async () => {
    const s = await signInTokens(t, alice, { scope: 'openid profile email offline_access' })
    const r = await userinfo(t, s.body.access_token)
    expect(r.status).toBe(200)
    expect(r.headers.get('cache-control')).toBe('no-store')
    expect(r.body).toEqual({
      sub: alice.id,
      preferred_username: 'alice',
      name: 'alice',
      updated_at: Math.floor(alice.updatedAt / 1000),
      email: 'alice@example.test',
      email_verified: false,
    })
    // Only what the scope allows.
    const narrow = await signInTokens(t, alice, { scope: 'openid offline_access' })
    expect((await userinfo(t, narrow.body.access_token)).body).toEqual({ sub: alice.id })
  })

  it('the token may come in a POST form body (RFC 6750 2.2)', async () => {
    const s = await signInTokens(t, alice)
    const r = await postForm(`${t.url}/userinfo`, { access_token: s.body.access_token })
    expect(r.status).toBe(200)
    expect(r.body.sub).toBe(alice.id)
  })

  it('TOK-02 an access token in the query string is rejected, even next to a valid header', async () => {
    const s = await signInTokens(t, alice)
    const at = s.body.access_token as string
    for (const headers of [{}, { authorization: `Bearer ${at}` }] as Record<string, string>[]) {
      const r = await get(`/userinfo?access_token=${at}`, headers)
      expect(r.status).toBe(400)
      expect(r.body).toEqual({
        error: 'invalid_request',
        error_description: 'the access token must not be sent in the URL',
      })
      expect(r.headers.get('www-authenticate')).toBe(
        'Bearer realm="tessera", error="invalid_request"',
      )
      expect(r.headers.get('cache-control')).toBe('no-store')
    }
    const post = await postForm(`${t.url}/userinfo?access_token=${at}`, {})
    expect(post.status).toBe(400)
    expect(post.body.error).toBe('invalid_request')
  })

  it('TOK-02 access and refresh tokens in the token endpoint URL are rejected', async () => {
    const s = await signInTokens(t, alice)
    for (const [k, v] of [
      ['refresh_token', s.body.refresh_token],
      ['access_token', s.body.access_token],
      ['client_secret', 'x'],
    ] as const) {
      const r = await postForm(`${t.url}/oauth/token?${k}=${encodeURIComponent(v)}`, {
        grant_type: 'refresh_token',
        refresh_token: s.body.refresh_token,
        client_id: 'web-app',
      })
      expect(r.status).toBe(400)
      expect(r.body).toEqual({
        error: 'invalid_request',
        error_description: `${k} must not be sent in the URL`,
      })
    }
  })

  const rejected: [string, () => Promise<Record<string, string>>, number, string][] = [
    [
      'no token',
      () => Promise.resolve({}),
      401,
      'Bearer realm="tessera", DPoP realm="tessera", algs="ES256 EdDSA Ed25519 RS256 PS256"',
    ],
    [
      'an API access token (aud = API A)',
      async () => {
        const s = await signInTokens(t, alice, { resource: API_A })
        expect(decodeJwt(s.body.access_token).aud).toBe(API_A)
        return { authorization: `Bearer ${s.body.access_token}` }
      },
      401,
      INVALID_TOKEN,
    ],
    [
      'an ID token',
      async () => {
        const s = await signInTokens(t, alice)
        return { authorization: `Bearer ${s.body.id_token}` }
      },
      401,
      INVALID_TOKEN,
    ],
    [
      'a refresh token',
      async () => {
        const s = await signInTokens(t, alice)
        return { authorization: `Bearer ${s.body.refresh_token}` }
      },
      401,
      INVALID_TOKEN,
    ],
    [
      'a client_credentials token',
      async () => {
        const r = await postForm(
          `${t.url}/oauth/token`,
          { grant_type: 'client_credentials', resource: API_A },
          confidentialAuth(),
        )
        return { authorization: `Bearer ${r.body.access_token}` }
      },
      401,
      INVALID_TOKEN,
    ],
    [
      'an alg none token',
      () => {
        const h = Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')
        const p = Buffer.from(JSON.stringify({ sub: alice.id, aud: t.url, iss: t.url })).toString(
          'base64url',
        )
        return Promise.resolve({ authorization: `Bearer ${h}.${p}.` })
      },
      401,
      INVALID_TOKEN,
    ],
    [
      'a Basic header',
      () => Promise.resolve({ authorization: 'Basic d2ViLWFwcDp4' }),
      401,
      'Bearer realm="tessera", error="invalid_token", error_description="the Authorization header is not a Bearer or DPoP token"',
    ],
  ]

  it.each(rejected)('%s gets %i with a Bearer challenge', async (_name, headers, status, www) => {
    const r = await get('/userinfo', await headers())
    expect(r.status).toBe(status)
    expect(r.headers.get('www-authenticate')).toBe(www)
    expect(r.headers.get('cache-control')).toBe('no-store')
    expect(r.body.sub).toBeUndefined()
  })

  it('JWT-11 an issuer access token re-signed as an ID token (typ JWT, right audience) is refused by its typ alone', async () => {
    const s = await signInTokens(t, alice)
    const at = s.body.access_token as string
    expect(decodeJwt(at).aud).toBe(t.url)
    // Control: the same claims re-signed as at+jwt are accepted, so only the type differs below.
    const control = await userinfo(t, withTyp(t, at, 'at+jwt'))
    expect([control.status, control.body.sub]).toEqual([200, alice.id])
    for (const typ of ['JWT', 'logout+jwt', 'jwt']) {
      const r = await get('/userinfo', { authorization: `Bearer ${withTyp(t, at, typ)}` })
      expect(r.status).toBe(401)
      expect(r.body).toStrictEqual({
        error: 'invalid_token',
        error_description: 'the access token is invalid or expired',
      })
      expect(r.headers.get('www-authenticate')).toBe(INVALID_TOKEN)
    }
  })

  it('a token sent twice (header and body) is invalid_request', async () => {
    const s = await signInTokens(t, alice)
    const r = await postForm(
      `${t.url}/userinfo`,
      { access_token: s.body.access_token },
      { authorization: `Bearer ${s.body.access_token}` },
    )
    expect(r.status).toBe(400)
    expect(r.body).toEqual({
      error: 'invalid_request',
      error_description: 'send the access token once',
    })
  })

  it('an access token without openid is 403 insufficient_scope', async () => {
    const s = await signInTokens(t, alice, { scope: 'profile offline_access' })
    const r = await userinfo(t, s.body.access_token)
    expect(r.status).toBe(403)
    expect(r.body).toEqual({
      error: 'insufficient_scope',
      error_description: 'the access token lacks the openid scope',
    })
    expect(r.headers.get('www-authenticate')).toBe(
      'Bearer realm="tessera", error="insufficient_scope", error_description="the access token lacks the openid scope"',
    )
  })

  it('an access token works 1 ms before exp and gets 401 at exp', async () => {
    const s = await signInTokens(t, alice)
    const exp = decodeJwt(s.body.access_token).exp! * 1000
    t.clock.set(exp - 1)
    expect((await userinfo(t, s.body.access_token)).status).toBe(200)
    t.clock.set(exp)
    const r = await userinfo(t, s.body.access_token)
    expect(r.status).toBe(401)
    expect(r.headers.get('www-authenticate')).toBe(INVALID_TOKEN)
  })
})
