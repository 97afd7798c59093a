import { afterEach, describe, expect, it } from 'vitest'
import { basicAuth, mintCode, postForm, signInTokens } from '../../../server/test/helpers/grants.js'
import {
  API_A,
  API_B,
  CONFIDENTIAL_SECRET,
  startTestServer,
  type TestServer,
} from '../../../server/test/helpers/test-server.js'
import type { SigningAlg } from '../../../server/src/store/types.js'
import { isVerifyError } from '../../src/errors.js'
import { createVerifier } from '../../src/verifier/create-verifier.js'
import { startFetchHandler, type RunningApp } from '../helpers/apps.js'

/** The error code a verification fails with. */
async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    if (isVerifyError(err)) return `${err.code}: ${err.message}`
    throw err
  }
  return 'passed'
}

let t: TestServer | undefined
let app: RunningApp | undefined
afterEach(async () => {
  await app?.close()
  await t?.close()
  app = t = undefined
})

async function server(alg: SigningAlg = 'ES256'): Promise<TestServer> {
  t = await startTestServer({ config: { signingAlg: alg } })
  // The verifier reads the real time; the server's fake clock must agree with it.
  t.clock.set(Date.now())
  return t
}

/** Tokens for the confidential client, which may introspect. */
async function confidentialTokens(
  s: TestServer,
): Promise<{ access_token: string; refresh_token: string }> {
  const user = await s.createUser()
  const c = await mintCode(s, user, {
    clientId: 'confidential-app',
    scope: 'openid offline_access read',
  })
  const res = await postForm(
    s.url + '/oauth/token',
    {
      grant_type: 'authorization_code',
      code: c.code,
      code_verifier: c.verifier,
      redirect_uri: c.redirectUri,
      resource: API_A,
    },
    basicAuth('confidential-app', CONFIDENTIAL_SECRET),
  )
  expect(res.status).toBe(200)
  return res.body
}

describe('real tokens from a Tessera server', () => {
  it.each<SigningAlg>(['ES256', 'EdDSA', 'RS256'])(
    'TOK-06 a %s access token for API A passes the API A verifier and fails the API B one',
    async (alg) => {
      const s = await server(alg)
      const user = await s.createUser()
      const res = await signInTokens(s, user, { resource: API_A })
      expect(res.status).toBe(200)
      const token: string = res.body.access_token

      const a = createVerifier({ issuer: s.url, audience: API_A })
      const b = createVerifier({ issuer: s.url, audience: API_B })
      const verified = await a.verify(token)
      expect(verified.claims).toMatchObject({
        iss: s.url,
        sub: user.id,
        aud: API_A,
        client_id: 'web-app',
        scope: 'read',
      })
      expect(verified.scopes).toEqual(['read'])
      expect(verified.header.alg).toBe(alg)
      expect(await failure(b.verify(token))).toBe(
        'wrong_audience: aud claim does not contain this API',
      )

      // And over HTTP, through a binding.
      app = await startFetchHandler(b)
      const r = await fetch(app.url + '/api/me', { headers: { authorization: `Bearer ${token}` } })
      expect(r.status).toBe(401)
      expect(r.headers.get('www-authenticate')).toBe(
        'Bearer error="invalid_token", error_description="aud claim does not contain this API"',
      )
    },
  )

  it('JWT-11 the ID token of the same sign-in is not accepted as an access token', async () => {
    const s = await server()
    const user = await s.createUser()
    const res = await signInTokens(s, user, { resource: API_A })
    const v = createVerifier({ issuer: s.url, audience: ['web-app', API_A] })
    expect(await failure(v.verify(res.body.id_token))).toBe(
      'wrong_type: typ header is not at+jwt: ID tokens, logout tokens and other JWTs are not access tokens',
    )
  })

  it('introspection mode sees a revocation of the refresh token at once', async () => {
    const s = await server()
    const tokens = await confidentialTokens(s)
    const plain = createVerifier({ issuer: s.url, audience: API_A })
    const live = createVerifier({
      issuer: s.url,
      audience: API_A,
      introspection: { clientId: 'confidential-app', clientSecret: CONFIDENTIAL_SECRET },
    })
    expect((await live.verify(tokens.access_token)).claims.client_id).toBe('confidential-app')
    expect((await live.verify(tokens.access_token)).claims.sub).toMatch(/^usr_/)
    expect(live.stats().introspectionRequests).toBe(2)

    const revoke = await postForm(
      s.url + '/oauth/revoke',
      { token: tokens.refresh_token, token_type_hint: 'refresh_token' },
      basicAuth('confidential-app', CONFIDENTIAL_SECRET),
    )
    expect(revoke.status).toBe(200)

    expect(await failure(live.verify(tokens.access_token))).toBe(
      'inactive: the token is no longer active (revoked or ended)',
    )
    // An inactive answer is final: kept until exp, no new request.
    expect(await failure(live.verify(tokens.access_token))).toBe(
      'inactive: the token is no longer active (revoked or ended)',
    )
    expect(live.stats().introspectionRequests).toBe(3)
    // A verifier without introspection still accepts the self-contained JWT until its exp.
    expect((await plain.verify(tokens.access_token)).claims.client_id).toBe('confidential-app')
  })

  it('with an introspection cacheTtl, a revocation is seen once the cached answer is older than it', async () => {
    const s = await server()
    const tokens = await confidentialTokens(s)
    let offset = 0
    const live = createVerifier({
      issuer: s.url,
      audience: API_A,
      clock: { now: () => Date.now() + offset },
      introspection: {
        clientId: 'confidential-app',
        clientSecret: CONFIDENTIAL_SECRET,
        cacheTtl: 10,
      },
    })
    await live.verify(tokens.access_token)
    const revoke = await postForm(
      s.url + '/oauth/revoke',
      { token: tokens.refresh_token },
      basicAuth('confidential-app', CONFIDENTIAL_SECRET),
    )
    expect(revoke.status).toBe(200)
    // Inside the window the cached answer stands: the documented price of the cache.
    await live.verify(tokens.access_token)
    expect(live.stats().introspectionRequests).toBe(1)
    offset = 10_000
    expect(await failure(live.verify(tokens.access_token))).toBe(
      'inactive: the token is no longer active (revoked or ended)',
    )
    expect(live.stats().introspectionRequests).toBe(2)
  })

  it('introspection with a wrong client secret fails closed as introspection_failed', async () => {
    const s = await server()
    const tokens = await confidentialTokens(s)
    const live = createVerifier({
      issuer: s.url,
      audience: API_A,
      introspection: { clientId: 'confidential-app', clientSecret: 'not-the-secret' },
    })
    expect(await failure(live.verify(tokens.access_token))).toBe(
      'introspection_failed: the introspection endpoint did not answer with a valid response',
    )
  })
})
