/**
 * DPoP (RFC 9449) through the server: bound tokens from every grant, userinfo with the DPoP
 * scheme, introspection, per-client `dpop: 'required'`, `dpop_jkt` at /authorize, and
 * maintenance. RT-18 has its own file, the server nonce too. Real server on loopback, time frozen.
 */
import BetterSqlite3 from 'better-sqlite3'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClientConfig } from '../../src/config/config.js'
import { runMaintenance } from '../../src/sessions/maintenance.js'
import type { UserRecord } from '../../src/store/types.js'
import { verifyOwnAccessToken } from '../../src/tokens/verify-own-token.js'
import { dpopKey, tokenProof, userinfoProof, type DpopKey } from '../helpers/dpop.js'
import { mintCode, postForm, sessionOf, type MintCodeOptions, codeForm } from '../helpers/grants.js'
import { authorize } from '../helpers/oauth-flow.js'
import { API_A, type TestServer } from '../helpers/test-server.js'
import {
  confidentialAuth,
  dbCounts,
  expectOAuthError,
  judge,
  sidOf,
  startTokenServer,
  tokenClients,
  tokenEndpoint,
  type FormResponse,
} from '../token/fixtures.js'

const requiredClient: ClientConfig = {
  id: 'dpop-required-app',
  redirectUris: ['https://dpop.example.test/callback'],
  audiences: [API_A],
  scopes: ['openid', 'offline_access', 'read'],
  dpop: 'required',
}

let t: TestServer
let alice: UserRecord
let key: DpopKey
let otherKey: DpopKey

beforeAll(async () => {
  t = await startTokenServer({ clients: [...tokenClients, requiredClient] })
  alice = await t.createUser('alice')
  key = await dpopKey('ES256')
  otherKey = await dpopKey('ES256')
})
afterAll(async () => {
  await t.close()
})

/** Redeems a freshly minted code, with a proof of `k` unless it is null. */
async function codeExchange(
  k: DpopKey | null,
  o: MintCodeOptions & { resource?: string; auth?: Record<string, string> } = {},
): Promise<FormResponse> {
  const c = await mintCode(t, alice, o)
  return postForm(
    tokenEndpoint(t),
    {
      grant_type: 'authorization_code',
      code: c.code,
      code_verifier: c.verifier,
      redirect_uri: c.redirectUri,
      ...(o.auth ? {} : { client_id: c.clientId }),
      ...(o.resource ? { resource: o.resource } : {}),
    },
    { ...o.auth, ...(k ? { dpop: tokenProof(t, k) } : {}) },
  )
}

/** Rows of the proof replay table, read straight from the SQLite file. */
function proofRows(): number {
  const db = new BetterSqlite3(t.dbFile, { readonly: true, fileMustExist: true })
  try {
    return (db.prepare('select count(*) as n from dpop_proofs').get() as { n: number }).n
  } finally {
    db.close()
  }
}

async function getUserinfo(
  headers: Record<string, string>,
): Promise<{ status: number; www: string | null; body: any }> {
  const res = await fetch(`${t.url}/userinfo`, { headers })
  return { status: res.status, www: res.headers.get('www-authenticate'), body: await res.json() }
}

const DPOP_CHALLENGE = (error: string, description: string) =>
  `DPoP realm="tessera", error="${error}", error_description="${description}", algs="ES256 EdDSA Ed25519 RS256 PS256"`

describe('DPoP-bound tokens', () => {
  it('discovery advertises dpop_signing_alg_values_supported', async () => {
    const doc: any = await (await fetch(`${t.url}/.well-known/openid-configuration`)).json()
    expect(doc.dpop_signing_alg_values_supported).toEqual([
      'ES256',
      'EdDSA',
      'Ed25519',
      'RS256',
      'PS256',
    ])
  })

  it.each(['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'] as const)(
    'code -> refresh -> userinfo with a %s key: DPoP tokens bound to its thumbprint',
    async (alg) => {
      const k = await dpopKey(alg)
      const r = await codeExchange(k)
      expect(r.status, JSON.stringify(r.body)).toBe(200)
      expect(r.body.token_type).toBe('DPoP')
      expect(decodeJwt(r.body.access_token).cnf).toEqual({ jkt: k.jkt })
      const sid = sidOf(r.body.refresh_token)
      expect((await sessionOf(t, sid)).dpopJkt).toBe(k.jkt)

      t.clock.advance(1000)
      const refreshed = await postForm(
        tokenEndpoint(t),
        { grant_type: 'refresh_token', refresh_token: r.body.refresh_token, client_id: 'web-app' },
        { dpop: tokenProof(t, k) },
      )
      expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200)
      expect(refreshed.body.token_type).toBe('DPoP')
      const at = refreshed.body.access_token as string
      expect(decodeJwt(at).cnf).toEqual({ jkt: k.jkt })

      const ui = await getUserinfo({
        authorization: `DPoP ${at}`,
        dpop: userinfoProof(t, k, at),
      })
      expect(ui).toMatchObject({ status: 200, body: { sub: alice.id } })
      // POST works too, with htm POST.
      const post = await postForm(
        `${t.url}/userinfo`,
        {},
        { authorization: `DPoP ${at}`, dpop: userinfoProof(t, k, at, { htm: 'POST' }) },
      )
      expect(post.status).toBe(200)
    },
  )

  it('without a proof everything stays Bearer, as before', async () => {
    const r = await codeExchange(null)
    expect(r.body.token_type).toBe('Bearer')
    expect(decodeJwt(r.body.access_token).cnf).toBeUndefined()
    expect((await sessionOf(t, sidOf(r.body.refresh_token))).dpopJkt).toBeNull()
  })

  it('an unbound session refreshed with a proof gets a bound access token, but stays unbound', async () => {
    const r = await codeExchange(null)
    const sid = sidOf(r.body.refresh_token)
    const bound = await postForm(
      tokenEndpoint(t),
      { grant_type: 'refresh_token', refresh_token: r.body.refresh_token, client_id: 'web-app' },
      { dpop: tokenProof(t, key) },
    )
    expect(bound.body.token_type).toBe('DPoP')
    expect(decodeJwt(bound.body.access_token).cnf).toEqual({ jkt: key.jkt })
    expect((await sessionOf(t, sid)).dpopJkt).toBeNull()
    const plain = await postForm(tokenEndpoint(t), {
      grant_type: 'refresh_token',
      refresh_token: bound.body.refresh_token,
      client_id: 'web-app',
    })
    expect(plain.status).toBe(200)
    expect(plain.body.token_type).toBe('Bearer')
  })

  it("a confidential client's access tokens are bound, its refresh token is not (RFC 9449 5)", async () => {
    const r = await codeExchange(key, { clientId: 'confidential-app', auth: confidentialAuth() })
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    expect(r.body.token_type).toBe('DPoP')
    expect(decodeJwt(r.body.access_token).cnf).toEqual({ jkt: key.jkt })
    expect((await sessionOf(t, sidOf(r.body.refresh_token))).dpopJkt).toBeNull()
    // Client authentication constrains its refresh token; another key (a rotated one) is fine.
    const next = await postForm(
      tokenEndpoint(t),
      { grant_type: 'refresh_token', refresh_token: r.body.refresh_token },
      { ...confidentialAuth(), dpop: tokenProof(t, otherKey) },
    )
    expect(next.status).toBe(200)
    expect(decodeJwt(next.body.access_token).cnf).toEqual({ jkt: otherKey.jkt })
  })

  it('client_credentials with a proof gets a DPoP token for the API; without, a Bearer token', async () => {
    const bound = await postForm(
      tokenEndpoint(t),
      { grant_type: 'client_credentials', resource: API_A },
      { ...confidentialAuth(), dpop: tokenProof(t, key) },
    )
    expect(bound.status).toBe(200)
    expect(bound.body.token_type).toBe('DPoP')
    expect(decodeJwt(bound.body.access_token)).toMatchObject({
      aud: API_A,
      cnf: { jkt: key.jkt },
    })
    const plain = await postForm(
      tokenEndpoint(t),
      { grant_type: 'client_credentials', resource: API_A },
      confidentialAuth(),
    )
    expect(plain.body.token_type).toBe('Bearer')
    expect(decodeJwt(plain.body.access_token).cnf).toBeUndefined()
  })

  it('a bad proof at the code exchange is invalid_dpop_proof and burns nothing', async () => {
    const c = await mintCode(t, alice)
    const form = codeForm(c)
    const before = dbCounts(t)
    expectOAuthError(
      await postForm(tokenEndpoint(t), form, { dpop: tokenProof(t, key, { htm: 'PUT' }) }),
      400,
      'invalid_dpop_proof',
      'htm claim of the DPoP proof must be POST',
    )
    expect(dbCounts(t)).toStrictEqual(before)
    expect((await postForm(tokenEndpoint(t), form, { dpop: tokenProof(t, key) })).status).toBe(200)
  })

  it('introspection reports cnf and token_type DPoP for bound tokens (RFC 9449 6.2)', async () => {
    // The code exchange is a public client's, for no API: no caller may introspect these tokens
    // over HTTP (SES-12), so this reads the answer the server would give one that may.
    const r = await codeExchange(key)
    expect(await judge(t, r.body.access_token)).toMatchObject({
      active: true,
      token_type: 'DPoP',
      cnf: { jkt: key.jkt },
    })
    expect(await judge(t, r.body.refresh_token)).toMatchObject({
      active: true,
      token_type: 'refresh_token',
      cnf: { jkt: key.jkt },
    })
    const plain = await codeExchange(null)
    const pat = await judge(t, plain.body.access_token)
    expect(pat.token_type).toBe('Bearer')
    expect(pat.cnf).toBeUndefined()
    expect((await judge(t, plain.body.refresh_token)).cnf).toBeUndefined()
  })

  it("the server's own token verification refuses a bound token presented as bearer by default", async () => {
    const r = await codeExchange(key)
    const ctx = t.server.ctx
    const audience = t.url
    expect(await verifyOwnAccessToken(ctx, r.body.access_token, { audience })).toBeUndefined()
    // With binding 'any' it is the live token of alice's session, its binding in the claims.
    const bound = await verifyOwnAccessToken(ctx, r.body.access_token, { audience, binding: 'any' })
    expect(bound?.claims).toMatchObject({
      sub: alice.id,
      client_id: 'web-app',
      sid: sidOf(r.body.refresh_token),
      cnf: { jkt: key.jkt },
    })
    expect(bound?.session?.id).toBe(sidOf(r.body.refresh_token))
    expect(bound?.user?.id).toBe(alice.id)
    const plain = await codeExchange(null)
    const bearer = await verifyOwnAccessToken(ctx, plain.body.access_token, { audience })
    expect(bearer?.claims).toMatchObject({
      sub: alice.id,
      client_id: 'web-app',
      sid: sidOf(plain.body.refresh_token),
    })
    expect(bearer?.claims.cnf).toBeUndefined()
    expect(bearer?.session?.id).toBe(sidOf(plain.body.refresh_token))
    expect(bearer?.user?.id).toBe(alice.id)
  })
})

describe('userinfo with DPoP (RFC 9449 7)', () => {
  let at: string
  let plainAt: string
  beforeAll(async () => {
    at = (await codeExchange(key)).body.access_token as string
    plainAt = (await codeExchange(null)).body.access_token as string
  })

  const rows: [string, () => Record<string, string>, string, string][] = [
    [
      'a bound token presented as Bearer',
      () => ({ authorization: `Bearer ${at}` }),
      'invalid_token',
      'the access token is DPoP-bound: send it with the DPoP scheme',
    ],
    [
      'a bound token presented as Bearer, even with a valid proof',
      () => ({ authorization: `Bearer ${at}`, dpop: userinfoProof(t, key, at) }),
      'invalid_token',
      'the access token is DPoP-bound: send it with the DPoP scheme',
    ],
    [
      'an unbound token with the DPoP scheme',
      () => ({ authorization: `DPoP ${plainAt}`, dpop: userinfoProof(t, key, plainAt) }),
      'invalid_token',
      'the access token is not DPoP-bound: send it with the Bearer scheme',
    ],
    [
      'the DPoP scheme without a proof',
      () => ({ authorization: `DPoP ${at}` }),
      'invalid_dpop_proof',
      'send exactly one DPoP header',
    ],
    [
      'a proof without ath',
      () => ({
        authorization: `DPoP ${at}`,
        dpop: userinfoProof(t, key, at, { claims: { ath: undefined } }),
      }),
      'invalid_dpop_proof',
      'ath claim of the DPoP proof is required with an access token',
    ],
    [
      'a proof whose ath is of another token',
      () => ({ authorization: `DPoP ${at}`, dpop: userinfoProof(t, key, plainAt) }),
      'invalid_dpop_proof',
      'ath claim of the DPoP proof does not match the access token',
    ],
    [
      'a proof of another key',
      () => ({ authorization: `DPoP ${at}`, dpop: userinfoProof(t, otherKey, at) }),
      'invalid_dpop_proof',
      'the DPoP proof key is not the key the access token is bound to',
    ],
    [
      'a proof for POST on a GET',
      () => ({ authorization: `DPoP ${at}`, dpop: userinfoProof(t, key, at, { htm: 'POST' }) }),
      'invalid_dpop_proof',
      'htm claim of the DPoP proof must be GET',
    ],
    [
      'a proof for the token endpoint',
      () => ({
        authorization: `DPoP ${at}`,
        dpop: userinfoProof(t, key, at, { htu: `${t.url}/oauth/token` }),
      }),
      'invalid_dpop_proof',
      'htu claim of the DPoP proof must be URL/userinfo',
    ],
  ]

  it.each(rows)('%s: 401 %s with a DPoP challenge', async (_name, headers, error, description) => {
    const expected = description.replace('URL', t.url)
    const r = await getUserinfo(headers())
    expect(r).toEqual({
      status: 401,
      www: DPOP_CHALLENGE(error, expected),
      body: { error, error_description: expected },
    })
  })

  it('a proof is good for one request: its replay is refused', async () => {
    const proof = userinfoProof(t, key, at)
    expect((await getUserinfo({ authorization: `DPoP ${at}`, dpop: proof })).status).toBe(200)
    const again = await getUserinfo({ authorization: `DPoP ${at}`, dpop: proof })
    expect(again.status).toBe(401)
    expect(again.www).toBe(
      DPOP_CHALLENGE('invalid_dpop_proof', 'the DPoP proof has already been used (jti)'),
    )
  })

  it('the htu is compared normalised (scheme case, dot segments, encoded unreserved characters), without query and fragment', async () => {
    const u = new URL(t.url)
    const htu = `HTTP://${u.hostname}:${u.port}/x/../%75serinfo?q=1#f`
    const r = await getUserinfo({
      authorization: `DPoP ${at}`,
      dpop: userinfoProof(t, key, at, { htu }),
    })
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    expect(r.body.sub).toBe(alice.id)
  })
})

describe("per-client dpop: 'required'", () => {
  it('a token request without a proof is invalid_dpop_proof and burns nothing; with one it works', async () => {
    const c = await mintCode(t, alice, { clientId: requiredClient.id })
    const form = codeForm(c)
    const before = dbCounts(t)
    expectOAuthError(
      await postForm(tokenEndpoint(t), form),
      400,
      'invalid_dpop_proof',
      'a DPoP proof is required for this client',
    )
    expect(dbCounts(t)).toStrictEqual(before)
    const ok = await postForm(tokenEndpoint(t), form, { dpop: tokenProof(t, key) })
    expect(ok.status).toBe(200)
    expect(ok.body.token_type).toBe('DPoP')
    expectOAuthError(
      await postForm(tokenEndpoint(t), {
        grant_type: 'refresh_token',
        refresh_token: ok.body.refresh_token,
        client_id: requiredClient.id,
      }),
      400,
      'invalid_dpop_proof',
      'a DPoP proof is required for this client',
    )
  })
})

describe('dpop_jkt at /authorize (RFC 9449 10)', () => {
  it('the code is redeemed only with a proof of that key; a wrong or missing proof burns nothing', async () => {
    const a = await authorize(t, { extra: { dpop_jkt: key.jkt } })
    const form = {
      grant_type: 'authorization_code',
      code: a.code,
      code_verifier: a.codeVerifier,
      redirect_uri: a.redirectUri,
      client_id: a.clientId,
    }
    const before = dbCounts(t)
    expectOAuthError(
      await postForm(tokenEndpoint(t), form),
      400,
      'invalid_grant',
      'a DPoP proof is required: the authorization request named dpop_jkt',
    )
    expectOAuthError(
      await postForm(tokenEndpoint(t), form, { dpop: tokenProof(t, otherKey) }),
      400,
      'invalid_grant',
      'the DPoP proof key does not match dpop_jkt of the authorization request',
    )
    expect(dbCounts(t)).toMatchObject({
      consumedCodes: before.consumedCodes,
      sessions: before.sessions,
    })
    const ok = await postForm(tokenEndpoint(t), form, { dpop: tokenProof(t, key) })
    expect(ok.status).toBe(200)
    expect((await sessionOf(t, sidOf(ok.body.refresh_token))).dpopJkt).toBe(key.jkt)
  })

  it('a dpop_jkt that is not a SHA-256 thumbprint is invalid_request, redirected to the client', async () => {
    await expect(authorize(t, { extra: { dpop_jkt: 'abc' } })).rejects.toThrow(
      'authorize: invalid_request: dpop_jkt must be a base64url SHA-256 JWK thumbprint (43 characters)',
    )
  })
})

describe('maintenance', () => {
  it('deletes the replay records of proofs that can no longer pass the iat check', async () => {
    const before = proofRows()
    await codeExchange(key)
    // The exchange's proof is recorded; every proof so far is at most 60 s old.
    expect(proofRows()).toBe(before + 1)
    t.clock.advance(61_000)
    const r = await runMaintenance(t.server.ctx)
    expect(r.dpopProofsDeleted).toBe(before + 1)
    expect(proofRows()).toBe(0)
    expect((await runMaintenance(t.server.ctx)).dpopProofsDeleted).toBe(0)
  })
})
