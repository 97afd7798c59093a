import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { sha256b64u } from '../../src/lib/crypto.js'
import type { AuthorizationCodeRecord, UserRecord } from '../../src/store/types.js'
import { mintCode, pkcePair, postForm } from '../helpers/grants.js'
import type { TestServer } from '../helpers/test-server.js'
import {
  confidentialAuth,
  dbCounts,
  expectOAuthError,
  sidOf,
  useTokenServer,
  tokenEndpoint,
} from './fixtures.js'

let t: TestServer
let alice: UserRecord
useTokenServer((s) => ({ t, alice } = s))

function redeem(c: Awaited<ReturnType<typeof mintCode>>, verifier: string | undefined) {
  return postForm(tokenEndpoint(t), {
    grant_type: 'authorization_code',
    code: c.code,
    redirect_uri: c.redirectUri,
    client_id: c.clientId,
    ...(verifier !== undefined ? { code_verifier: verifier } : {}),
  })
}

const BAD_CHARSET = 'code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]'

describe('PKCE at the token endpoint', () => {
  it('PKCE-03 a token request without code_verifier is invalid_grant and burns nothing', async () => {
    const c = await mintCode(t, alice)
    const before = dbCounts(t)
    for (const verifier of [undefined, '']) {
      expectOAuthError(await redeem(c, verifier), 400, 'invalid_grant', 'code_verifier is required')
    }
    expect(dbCounts(t)).toEqual(before)
    expect((await redeem(c, c.verifier)).status).toBe(200)
  })

  it('PKCE-04 a wrong code_verifier is invalid_grant; the code is not burned and still redeems', async () => {
    const c = await mintCode(t, alice)
    const before = dbCounts(t)
    // Several wrong verifiers of the right shape, including one differing in its last character.
    const last = c.verifier.at(-1) === 'A' ? 'B' : 'A'
    for (const wrong of [pkcePair().verifier, c.verifier.slice(0, -1) + last, 'a'.repeat(128)]) {
      expectOAuthError(
        await redeem(c, wrong),
        400,
        'invalid_grant',
        'code_verifier does not match the code_challenge',
      )
    }
    expect(dbCounts(t)).toEqual(before)
    const rec = await t.store.getCode(sha256b64u(c.code))
    expect(rec?.consumedAt).toBeNull()
    expect(rec?.sessionId).toBeNull()
    expect(await t.store.listEvents({ userId: alice.id, type: 'code_reuse' })).toEqual([])

    const ok = await redeem(c, c.verifier)
    expect(ok.status).toBe(200)
    expect(ok.body.access_token).toEqual(expect.any(String))
    expect(ok.body.refresh_token).toMatch(/^tsr_/)
    const session = await t.store.getSession(sidOf(ok.body.refresh_token))
    expect(session?.state).toBe('active')
    // The constant-time comparison (safeEqual over SHA-256 digests) is not measured here: tests
    // never assert on wall-clock speed (DESIGN.md, Testing).
  })

  it('PKCE-05 a code issued without a challenge cannot be redeemed with a code_verifier (downgrade)', async () => {
    const { verifier } = pkcePair()
    const now = t.clock.now()
    const base: AuthorizationCodeRecord = {
      codeHash: '',
      clientId: 'web-app',
      userId: alice.id,
      browserSessionId: null,
      redirectUri: 'https://app.example.test/callback',
      scope: 'openid offline_access',
      resources: [],
      nonce: null,
      codeChallenge: '',
      codeChallengeMethod: 'S256',
      authTime: now,
      amr: ['pwd'],
      createdAt: now,
      expiresAt: now + 60_000,
      consumedAt: null,
      sessionId: null,
      userAgent: null,
      ip: null,
    }
    // No challenge at all, and a `plain` challenge equal to the verifier (a record /authorize
    // must never write, forced in here to prove the token endpoint does not trust it).
    const variants: Partial<AuthorizationCodeRecord>[] = [
      { codeChallenge: '' },
      { codeChallenge: verifier, codeChallengeMethod: 'plain' as 'S256' },
    ]
    for (const v of variants) {
      const code = randomBytes(32).toString('base64url')
      await t.store.createCode({ ...base, ...v, codeHash: sha256b64u(code) })
      const before = dbCounts(t)
      const r = await postForm(tokenEndpoint(t), {
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: base.redirectUri,
        client_id: 'web-app',
      })
      expectOAuthError(r, 400, 'invalid_grant', 'the authorization code was not issued with PKCE')
      expect(dbCounts(t)).toEqual(before)
    }
  })

  const rows: { name: string; verifier: string; status: number; error: string; desc: string }[] = [
    {
      name: '42 characters',
      verifier: 'a'.repeat(42),
      status: 400,
      error: 'invalid_grant',
      desc: BAD_CHARSET,
    },
    {
      name: '129 characters',
      verifier: 'a'.repeat(129),
      status: 400,
      error: 'invalid_grant',
      desc: BAD_CHARSET,
    },
    { name: '1 character', verifier: 'a', status: 400, error: 'invalid_grant', desc: BAD_CHARSET },
    {
      name: 'over the parameter limit (257 characters)',
      verifier: 'a'.repeat(257),
      status: 400,
      error: 'invalid_request',
      desc: 'parameter code_verifier is too long',
    },
    {
      name: 'a plus sign',
      verifier: 'a'.repeat(42) + '+',
      status: 400,
      error: 'invalid_grant',
      desc: BAD_CHARSET,
    },
    {
      name: 'a slash',
      verifier: 'a'.repeat(42) + '/',
      status: 400,
      error: 'invalid_grant',
      desc: BAD_CHARSET,
    },
    {
      name: 'base64 padding',
      verifier: 'a'.repeat(42) + '=',
      status: 400,
      error: 'invalid_grant',
      desc: BAD_CHARSET,
    },
    {
      name: 'a space',
      verifier: 'a'.repeat(21) + ' ' + 'a'.repeat(21),
      status: 400,
      error: 'invalid_grant',
      desc: BAD_CHARSET,
    },
    {
      name: 'a non-ASCII letter',
      verifier: 'a'.repeat(42) + 'é',
      status: 400,
      error: 'invalid_grant',
      desc: BAD_CHARSET,
    },
    {
      name: 'a NUL byte',
      verifier: 'a'.repeat(42) + '\u0000',
      status: 400,
      error: 'invalid_grant',
      desc: BAD_CHARSET,
    },
    // Inside the allowed shape, the boundaries reach the comparison (and fail only on the value).
    {
      name: 'exactly 43 characters of the full charset, wrong value',
      verifier: 'AZaz09-._~'.repeat(4) + 'abc',
      status: 400,
      error: 'invalid_grant',
      desc: 'code_verifier does not match the code_challenge',
    },
    {
      name: 'exactly 128 characters, wrong value',
      verifier: 'Zz9-._~'.repeat(18) + 'ab',
      status: 400,
      error: 'invalid_grant',
      desc: 'code_verifier does not match the code_challenge',
    },
  ]

  it.each(rows)(
    'PKCE-06 a code_verifier with $name is $error and burns nothing',
    async ({ verifier, status, error, desc }) => {
      const c = await mintCode(t, alice)
      const before = dbCounts(t)
      expectOAuthError(await redeem(c, verifier), status, error, desc)
      expect(dbCounts(t)).toEqual(before)
      expect((await t.store.getCode(sha256b64u(c.code)))?.consumedAt).toBeNull()
    },
  )

  it('PKCE-06 verifiers of exactly 43 and 128 characters that match their challenge redeem', async () => {
    for (const verifier of ['AZaz09-._~'.repeat(4) + 'abc', 'Zz9-._~'.repeat(18) + 'ab']) {
      expect(verifier.length === 43 || verifier.length === 128).toBe(true)
      const c = await mintCode(t, alice)
      // Swap the minted challenge for the one of this verifier.
      const rec = await t.store.getCode(sha256b64u(c.code))
      const code = randomBytes(32).toString('base64url')
      await t.store.createCode({
        ...rec!,
        codeHash: sha256b64u(code),
        codeChallenge: sha256b64u(verifier),
      })
      const r = await redeem({ ...c, code }, verifier)
      expect(r.status).toBe(200)
    }
  })

  it('PKCE-07 valid PKCE with a confidential client (client_secret_basic) succeeds', async () => {
    const c = await mintCode(t, alice, {
      clientId: 'confidential-app',
      scope: 'openid profile offline_access read',
    })
    const r = await postForm(
      tokenEndpoint(t),
      {
        grant_type: 'authorization_code',
        code: c.code,
        code_verifier: c.verifier,
        redirect_uri: c.redirectUri,
      },
      confidentialAuth(),
    )
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ token_type: 'Bearer', scope: 'openid profile offline_access' })
    expect(r.body.refresh_token).toMatch(/^tsr_/)
    expect(r.body.id_token).toEqual(expect.any(String))
    // And without the verifier the same client is refused: PKCE is not optional for it either.
    const c2 = await mintCode(t, alice, { clientId: 'confidential-app' })
    const r2 = await postForm(
      tokenEndpoint(t),
      { grant_type: 'authorization_code', code: c2.code, redirect_uri: c2.redirectUri },
      confidentialAuth(),
    )
    expectOAuthError(r2, 400, 'invalid_grant', 'code_verifier is required')
  })
})
