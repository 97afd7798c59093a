/**
 * RT-18: a refresh token bound to a DPoP key (RFC 9449 5) is worth nothing without that key. Each
 * refused request is answered with the exact error and leaves the session row, the event log and
 * every other table as they were: no rotation, no grace use, no revocation. Time is frozen.
 */
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SessionRecord, UserRecord } from '../../src/store/types.js'
import { dpopKey, makeProof, postRaw, tokenProof, type DpopKey } from '../helpers/dpop.js'
import { mintCode, postForm, sessionOf, codeForm } from '../helpers/grants.js'
import type { TestServer } from '../helpers/test-server.js'
import {
  dbCounts,
  expectOAuthError,
  isActive,
  sidOf,
  startTokenServer,
  tokenEndpoint,
  type FormResponse,
} from '../token/fixtures.js'

let t: TestServer
let alice: UserRecord
let key: DpopKey
let otherKey: DpopKey

beforeAll(async () => {
  t = await startTokenServer()
  alice = await t.createUser('alice')
  key = await dpopKey('ES256')
  otherKey = await dpopKey('ES256')
})
afterAll(async () => {
  await t.close()
})

const NO_PROOF = 'the refresh token is bound to a DPoP key: send a DPoP proof made with that key'
const OTHER_KEY = 'the DPoP proof was not made with the key the refresh token is bound to'

/** A public client's code exchange with a proof of `k`: the session is bound to `k`. */
async function boundSession(k: DpopKey = key): Promise<{ rt: string; sid: string }> {
  const c = await mintCode(t, alice)
  const r = await postForm(tokenEndpoint(t), codeForm(c), { dpop: tokenProof(t, k) })
  expect(r.status, JSON.stringify(r.body)).toBe(200)
  expect(r.body.token_type).toBe('DPoP')
  const sid = sidOf(r.body.refresh_token)
  expect((await sessionOf(t, sid)).dpopJkt).toBe(k.jkt)
  return { rt: r.body.refresh_token, sid }
}

/** A refresh by the public client web-app, with `dpop` as the DPoP header when given. */
const refreshWith = (rt: string, dpop?: string): Promise<FormResponse> =>
  postForm(
    tokenEndpoint(t),
    { grant_type: 'refresh_token', refresh_token: rt, client_id: 'web-app' },
    dpop === undefined ? {} : { dpop },
  )

/** Runs `request`, then asserts the error and that nothing at all was written. */
async function expectRefusedUnchanged(
  sid: string,
  request: () => Promise<FormResponse>,
  error: string,
  description: string,
): Promise<void> {
  const before: SessionRecord = await sessionOf(t, sid)
  const counts = dbCounts(t)
  const r = await request()
  expectOAuthError(r, 400, error, description)
  expect(await sessionOf(t, sid)).toStrictEqual(before)
  expect(dbCounts(t)).toStrictEqual(counts)
}

const htu = () => `${t.url}/oauth/token`
const now = () => Math.floor(t.clock.now() / 1000)

interface Row {
  name: string
  error: 'invalid_grant' | 'invalid_dpop_proof'
  description: () => string
  /** The DPoP header value for the session's current refresh token; undefined sends none. */
  proof: () => string | Promise<string> | undefined
}

const ROWS: Row[] = [
  { name: 'no proof', error: 'invalid_grant', description: () => NO_PROOF, proof: () => undefined },
  {
    name: 'a valid proof made with another key',
    error: 'invalid_grant',
    description: () => OTHER_KEY,
    proof: () => tokenProof(t, otherKey),
  },
  {
    name: 'htm GET',
    error: 'invalid_dpop_proof',
    description: () => 'htm claim of the DPoP proof must be POST',
    proof: () => tokenProof(t, key, { htm: 'GET' }),
  },
  {
    name: 'htu of another endpoint',
    error: 'invalid_dpop_proof',
    description: () => `htu claim of the DPoP proof must be ${htu()}`,
    proof: () => tokenProof(t, key, { htu: `${t.url}/userinfo` }),
  },
  {
    name: 'htu of another host (localhost is not 127.0.0.1)',
    error: 'invalid_dpop_proof',
    description: () => `htu claim of the DPoP proof must be ${htu()}`,
    proof: () => tokenProof(t, key, { htu: htu().replace('127.0.0.1', 'localhost') }),
  },
  {
    name: 'htu that is not a URL',
    error: 'invalid_dpop_proof',
    description: () => `htu claim of the DPoP proof must be ${htu()}`,
    proof: () => tokenProof(t, key, { htu: '/oauth/token' }),
  },
  {
    name: 'iat 61 s in the past (stale)',
    error: 'invalid_dpop_proof',
    description: () => 'iat claim of the DPoP proof is more than 60 s in the past',
    proof: () => tokenProof(t, key, { iat: now() - 61 }),
  },
  {
    name: 'iat 61 s in the future',
    error: 'invalid_dpop_proof',
    description: () => 'iat claim of the DPoP proof is more than 60 s in the future',
    proof: () => tokenProof(t, key, { iat: now() + 61 }),
  },
  {
    name: 'iat missing',
    error: 'invalid_dpop_proof',
    description: () => 'iat claim of the DPoP proof must be a NumericDate',
    proof: () => tokenProof(t, key, { claims: { iat: undefined } }),
  },
  {
    name: 'jti missing',
    error: 'invalid_dpop_proof',
    description: () => 'jti claim of the DPoP proof must be a string of 1 to 256 characters',
    proof: () => tokenProof(t, key, { claims: { jti: undefined } }),
  },
  {
    name: 'a private jwk in the header',
    error: 'invalid_dpop_proof',
    description: () => 'jwk header of the DPoP proof must be a public key (it has private members)',
    proof: () => tokenProof(t, key, { header: { jwk: key.privateJwk } }),
  },
  ...['constructor', '__proto__', 'toString'].map((kty): Row => ({
    name: `a jwk whose kty is ${kty} (an inherited property name)`,
    error: 'invalid_dpop_proof',
    description: () => 'jwk header of the DPoP proof must be an EC, OKP or RSA key',
    proof: () => tokenProof(t, key, { header: { jwk: { kty } } }),
  })),
  {
    name: 'no jwk',
    error: 'invalid_dpop_proof',
    description: () => 'jwk header of the DPoP proof must be a JSON Web Key',
    proof: () => tokenProof(t, key, { header: { jwk: undefined } }),
  },
  {
    name: 'alg none',
    error: 'invalid_dpop_proof',
    description: () => 'alg none is not allowed for DPoP proofs',
    proof: () => tokenProof(t, key, { header: { alg: 'none' } }),
  },
  {
    name: 'alg HS256',
    error: 'invalid_dpop_proof',
    description: () => 'symmetric algorithms (HS256 ...) are not allowed for DPoP proofs',
    proof: () => tokenProof(t, key, { header: { alg: 'HS256' } }),
  },
  {
    name: 'alg ES512 (not on the list)',
    error: 'invalid_dpop_proof',
    description: () =>
      'alg header of the DPoP proof must be one of ES256, EdDSA, Ed25519, RS256, PS256',
    proof: () => tokenProof(t, key, { header: { alg: 'ES512' } }),
  },
  {
    name: 'a bad signature (made with another private key)',
    error: 'invalid_dpop_proof',
    description: () => 'the DPoP proof signature is invalid',
    proof: () => tokenProof(t, key, { signWith: otherKey.privateKey }),
  },
  {
    name: 'crit',
    error: 'invalid_dpop_proof',
    description: () => 'crit header of the DPoP proof is not supported',
    proof: () => tokenProof(t, key, { header: { crit: ['exp'] } }),
  },
  {
    name: 'typ JWT',
    error: 'invalid_dpop_proof',
    description: () => 'typ header of the DPoP proof must be dpop+jwt',
    proof: () => tokenProof(t, key, { header: { typ: 'JWT' } }),
  },
  {
    name: 'alg ES256 with an RSA jwk',
    error: 'invalid_dpop_proof',
    description: () => 'jwk header of the DPoP proof is not a valid ES256 public key',
    proof: async () => tokenProof(t, key, { header: { jwk: (await dpopKey('RS256')).publicJwk } }),
  },
  {
    name: 'an RSA key of 1024 bits',
    error: 'invalid_dpop_proof',
    description: () => 'jwk header of the DPoP proof is not a valid RS256 public key',
    proof: async () => tokenProof(t, await dpopKey('RS256', 1024)),
  },
  {
    name: 'not a JWS',
    error: 'invalid_dpop_proof',
    description: () => 'the DPoP proof is not a compact JWS (three base64url parts)',
    proof: () => 'not-a-proof',
  },
  {
    name: 'a proof over 8192 characters',
    error: 'invalid_dpop_proof',
    description: () => 'the DPoP proof is longer than 8192 characters',
    proof: () => tokenProof(t, key, { claims: { pad: 'x'.repeat(8192) } }),
  },
]

describe('RT-18 a DPoP-bound refresh token without a valid proof of its key', () => {
  it.each(ROWS)('$name: $error, and the session row did not change', async (row) => {
    const { rt, sid } = await boundSession()
    const proof = await row.proof()
    await expectRefusedUnchanged(sid, () => refreshWith(rt, proof), row.error, row.description())
  })

  it('a replayed proof (same jti): invalid_dpop_proof, and the second session did not change', async () => {
    const a = await boundSession()
    const b = await boundSession()
    const proof = tokenProof(t, key)
    expect((await refreshWith(a.rt, proof)).status).toBe(200)
    await expectRefusedUnchanged(
      b.sid,
      () => refreshWith(b.rt, proof),
      'invalid_dpop_proof',
      'the DPoP proof has already been used (jti)',
    )
  })

  it('two DPoP headers: invalid_dpop_proof, and the session row did not change', async () => {
    const { rt, sid } = await boundSession()
    const before = await sessionOf(t, sid)
    const r = await postRaw(
      tokenEndpoint(t),
      { grant_type: 'refresh_token', refresh_token: rt, client_id: 'web-app' },
      { dpop: [tokenProof(t, key), tokenProof(t, key)] },
    )
    expect(r).toEqual({
      status: 400,
      body: { error: 'invalid_dpop_proof', error_description: 'send exactly one DPoP header' },
    })
    expect(await sessionOf(t, sid)).toStrictEqual(before)
  })

  it('a rotated-away refresh token without a proof is invalid_grant and revokes nothing (no reuse detection)', async () => {
    const { rt, sid } = await boundSession()
    const next = await refreshWith(rt, tokenProof(t, key))
    expect(next.status).toBe(200)
    const rt1 = next.body.refresh_token as string
    const rt2 = (await refreshWith(rt1, tokenProof(t, key))).body.refresh_token as string
    // rt is now two generations old: with the key it would be reuse. Without it, nothing happens.
    await expectRefusedUnchanged(sid, () => refreshWith(rt), 'invalid_grant', NO_PROOF)
    await expectRefusedUnchanged(
      sid,
      () => refreshWith(rt, tokenProof(t, otherKey)),
      'invalid_grant',
      OTHER_KEY,
    )
    expect((await sessionOf(t, sid)).state).toBe('active')
    expect(await isActive(t, rt2)).toBe(true)
  })

  it('the previous token inside the grace window without a proof uses no grace replay', async () => {
    const { rt, sid } = await boundSession()
    expect((await refreshWith(rt, tokenProof(t, key))).status).toBe(200)
    const s = await sessionOf(t, sid)
    expect(s.graceUses).toBe(0)
    await expectRefusedUnchanged(sid, () => refreshWith(rt), 'invalid_grant', NO_PROOF)
    await expectRefusedUnchanged(
      sid,
      () => refreshWith(rt, tokenProof(t, otherKey)),
      'invalid_grant',
      OTHER_KEY,
    )
    expect((await sessionOf(t, sid)).graceUses).toBe(0)
  })

  it('with the right key it rotates as usual; the grace window and reuse rules are unchanged', async () => {
    const { rt, sid } = await boundSession()
    t.clock.advance(1000)
    const r1 = await refreshWith(rt, tokenProof(t, key))
    expect(r1.status).toBe(200)
    expect(r1.body.token_type).toBe('DPoP')
    expect(decodeJwt(r1.body.access_token).cnf).toEqual({ jkt: key.jkt })
    expect(await sessionOf(t, sid)).toMatchObject({ generation: 1, dpopJkt: key.jkt })
    // A lost response: the previous token, with a proof, inside the window gets the same child.
    t.clock.advance(1000)
    const retry = await refreshWith(rt, tokenProof(t, key))
    expect(retry.status).toBe(200)
    expect(retry.body.refresh_token).toBe(r1.body.refresh_token)
    expect(await sessionOf(t, sid)).toMatchObject({ generation: 1, graceUses: 1 })
    // REL-15: a DPoP-bound session's default window is 300 s (a stolen token is worthless without
    // the key, so a long window costs nothing): 1 ms before its end, still the same child.
    t.clock.advance(300_000 - 1000 - 1)
    const late = await refreshWith(rt, tokenProof(t, key))
    expect([late.status, late.body.refresh_token]).toStrictEqual([200, r1.body.refresh_token])
    // After the window, the previous token with the right key is reuse: the session is revoked.
    t.clock.advance(1)
    expectOAuthError(
      await refreshWith(rt, tokenProof(t, key)),
      400,
      'invalid_grant',
      'the refresh token is no longer valid',
    )
    expect(await sessionOf(t, sid)).toMatchObject({
      state: 'revoked',
      reason: 'refresh_token_reuse',
    })
  })

  it('iat exactly 60 s in the past or in the future is accepted (the window is inclusive)', async () => {
    const { rt } = await boundSession()
    const r1 = await refreshWith(rt, tokenProof(t, key, { iat: now() - 60 }))
    expect(r1.status, JSON.stringify(r1.body)).toBe(200)
    const r2 = await refreshWith(r1.body.refresh_token, tokenProof(t, key, { iat: now() + 60 }))
    expect(r2.status, JSON.stringify(r2.body)).toBe(200)
    // Both refreshes rotated the bound session and issued DPoP tokens.
    expect([r1.body.token_type, r2.body.token_type]).toStrictEqual(['DPoP', 'DPoP'])
    expect(new Set([rt, r1.body.refresh_token, r2.body.refresh_token]).size).toBe(3)
  })

  it('a proof is remembered as long as it could pass the iat check, and no longer', async () => {
    const a = await boundSession()
    const b = await boundSession()
    const iat = now()
    const proof = makeProof(key, { htu: htu(), iat }, t.clock.now())
    expect((await refreshWith(a.rt, proof)).status).toBe(200)
    // At iat + 60 s the proof would still pass the iat check: still a replay.
    t.clock.set((iat + 60) * 1000)
    expectOAuthError(
      await refreshWith(b.rt, proof),
      400,
      'invalid_dpop_proof',
      'the DPoP proof has already been used (jti)',
    )
    // One second later it is refused as stale, whatever the replay cache says.
    t.clock.set((iat + 61) * 1000)
    expectOAuthError(
      await refreshWith(b.rt, proof),
      400,
      'invalid_dpop_proof',
      'iat claim of the DPoP proof is more than 60 s in the past',
    )
  })
})
