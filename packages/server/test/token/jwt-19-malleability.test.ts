import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import type { UserRecord } from '../../src/store/types.js'
import { verifyOwnJwt } from '../../src/tokens/verify-own-token.js'
import { mintCode, postForm, codeForm, sessionOf } from '../helpers/grants.js'
import { dpopKey, tokenProof } from '../helpers/dpop.js'
import type { TestServer } from '../helpers/test-server.js'
import {
  confidentialAuth,
  dbCounts,
  expectOAuthError,
  INVALID,
  sidOf,
  tokenEndpoint,
  useTokenServer,
  userinfo,
} from './fixtures.js'

/**
 * JWT-19: a token has one spelling. Bytes that differ but decode (and verify) the same, the
 * unused low bits of the last base64url character, padding, the `+` / `/` alphabet, a character
 * above U+00FF, or an ECDSA signature (r, n - s), are refused wherever the server takes a token,
 * so nothing can count one token twice.
 */

let t: TestServer
let alice: UserRecord
useTokenServer((s) => ({ t, alice } = s))

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n

/** The last character with its lowest (unused) bit flipped. */
function trailingBits(segment: string): string {
  const v = ALPHABET.indexOf(segment.at(-1)!)
  return segment.slice(0, -1) + ALPHABET[v ^ 1]!
}

/** The other valid ECDSA signature of the same input: (r, n - s). */
function flipS(signature: string): string {
  const sig = Buffer.from(signature, 'base64url')
  const s = BigInt(`0x${sig.subarray(32).toString('hex')}`)
  const other = Buffer.from((P256_N - s).toString(16).padStart(64, '0'), 'hex')
  return Buffer.concat([sig.subarray(0, 32), other]).toString('base64url')
}

/** Every re-spelling of a compact JWS's signature; each decodes to the same bytes (or, for high
 * S, verifies the same) as the original. */
function respellings(jws: string): [string, string][] {
  const dot = jws.lastIndexOf('.')
  const [input, sig] = [jws.slice(0, dot), jws.slice(dot + 1)]
  const b64 = Buffer.from(sig, 'base64url').toString('base64').replace(/=+$/, '')
  const out: [string, string][] = [
    ['unused bits set in the last signature character', `${input}.${trailingBits(sig)}`],
    ['base64 padding on the signature', `${input}.${sig}=`],
    [
      'a signature character written above U+00FF',
      `${input}.${sig.slice(0, -1)}${String.fromCharCode(0x100 + sig.charCodeAt(sig.length - 1))}`,
    ],
  ]
  if (b64 !== sig) out.push(['the signature in the + and / alphabet', `${input}.${b64}`])
  const s = BigInt(`0x${Buffer.from(sig, 'base64url').subarray(32).toString('hex')}`)
  if (Buffer.from(sig, 'base64url').length === 64 && s <= P256_N >> 1n) {
    out.push(['the high-S twin of the ECDSA signature', `${input}.${flipS(sig)}`])
  }
  return out
}

/** A session of confidential-app (whose tokens it may introspect and revoke). */
async function confidentialTokens(): Promise<{
  access_token: string
  refresh_token: string
  id_token: string
}> {
  // Until a signature has a - or _, so the + / spelling differs from it.
  for (;;) {
    const c = await mintCode(t, alice, { clientId: 'confidential-app' })
    const r = await postForm(tokenEndpoint(t), codeForm(c), confidentialAuth())
    expect(r.status).toBe(200)
    const sig = (r.body.access_token as string).split('.')[2]!
    if (/[-_]/.test(sig)) return r.body
  }
}

const introspect = (token: string) =>
  postForm(`${t.url}/oauth/introspect`, { token }, confidentialAuth())

describe('JWT-19 token malleability', () => {
  it('JWT-19 every ES256 signature the server makes has a low S (one spelling per token)', async () => {
    let high = 0
    for (let i = 0; i < 40; i++) {
      const r = await confidentialTokens()
      for (const jws of [r.access_token, r.id_token]) {
        const sig = Buffer.from(jws.split('.')[2]!, 'base64url')
        expect(sig.length).toBe(64)
        if (BigInt(`0x${sig.subarray(32).toString('hex')}`) > P256_N >> 1n) high++
      }
    }
    expect(high).toBe(0)
  })

  it('JWT-19 re-spelled access tokens are refused at /userinfo, at introspection and at revocation', async () => {
    const r = await confidentialTokens()
    const at = r.access_token
    expect((await userinfo(t, at)).status).toBe(200)
    expect((await introspect(at)).body).toMatchObject({ active: true, jti: decodeJwt(at).jti })
    const variants = respellings(at)
    expect(variants.map(([name]) => name)).toContain('the high-S twin of the ECDSA signature')
    for (const [name, token] of variants) {
      // An HTTP header cannot carry a character above U+00FF: that one goes in bodies only.
      if (!name.includes('U+00FF')) {
        const u = await userinfo(t, token)
        expect([name, u.status, u.body.error]).toStrictEqual([name, 401, 'invalid_token'])
      }
      const i = await introspect(token)
      expect([name, i.status, i.body]).toStrictEqual([name, 200, { active: false }])
      // Revocation: not our token, so an unknown one (200), not our access token (400).
      const v = await postForm(`${t.url}/oauth/revoke`, { token }, confidentialAuth())
      expect([name, v.status]).toStrictEqual([name, 200])
    }
    expect((await sessionOf(t, sidOf(r.refresh_token))).state).toBe('active')
  })

  it('JWT-19 a re-spelled ID token is no id_token_hint: the server does not take it as its own', async () => {
    const r = await confidentialTokens()
    const ctx = t.server.ctx
    expect(await verifyOwnJwt(ctx, r.id_token, 'JWT', undefined, true)).toMatchObject({
      sub: alice.id,
    })
    for (const [name, token] of respellings(r.id_token)) {
      expect([name, await verifyOwnJwt(ctx, token, 'JWT', undefined, true)]).toStrictEqual([
        name,
        undefined,
      ])
    }
    // /logout answers a hint it does not take with the error page, ending nothing.
    const [, twin] = respellings(r.id_token)[0]!
    const res = await fetch(`${t.url}/logout?id_token_hint=${encodeURIComponent(twin)}`)
    expect(res.status).toBe(400)
    expect((await sessionOf(t, sidOf(r.refresh_token))).state).toBe('active')
  })

  it('JWT-19 re-spelled refresh tokens are invalid_grant, revoke nothing and introspect inactive', async () => {
    const r = await confidentialTokens()
    const rt = r.refresh_token
    const mac = rt.slice(rt.lastIndexOf('.') + 1)
    const head = rt.slice(0, rt.lastIndexOf('.') + 1)
    const variants: [string, string][] = [
      ['unused bits set in the last MAC character', head + trailingBits(mac)],
      ['base64 padding on the MAC', `${rt}=`],
      [
        'the MAC in the + and / alphabet',
        head + Buffer.from(mac, 'base64url').toString('base64').replace(/=+$/, ''),
      ],
      ['a MAC character above U+00FF', head + mac.slice(0, -1) + String.fromCharCode(0x141)],
      ['unused bits set in the session id', `tsr_${trailingBits(sidOf(rt))}${rt.slice(26)}`],
    ]
    const before = dbCounts(t)
    const session = await sessionOf(t, sidOf(rt))
    // (The + / spelling is the token itself when its MAC has no - or _.)
    for (const [name, token] of variants.filter(([, v]) => v !== rt)) {
      const g = await postForm(
        tokenEndpoint(t),
        { grant_type: 'refresh_token', refresh_token: token },
        confidentialAuth(),
      )
      expect([name, g.status, g.body]).toStrictEqual([
        name,
        400,
        { error: 'invalid_grant', error_description: INVALID },
      ])
      const v = await postForm(`${t.url}/oauth/revoke`, { token }, confidentialAuth())
      expect([name, v.status]).toStrictEqual([name, 200])
      expect([name, (await introspect(token)).body]).toStrictEqual([name, { active: false }])
    }
    expect(dbCounts(t)).toStrictEqual(before)
    expect(await sessionOf(t, sidOf(rt))).toStrictEqual(session)
  })

  it('JWT-19 a re-spelled DPoP proof is refused; its high-S twin is a replay, never a second proof', async () => {
    const key = await dpopKey('ES256')
    const exchange = async (proof: string) => {
      const c = await mintCode(t, alice, { clientId: 'confidential-app' })
      return postForm(tokenEndpoint(t), codeForm(c), { ...confidentialAuth(), dpop: proof })
    }
    for (;;) {
      const proof = tokenProof(t, key)
      const variants = respellings(proof)
      if (!variants.some(([n]) => n.startsWith('the high-S'))) continue
      // The DPoP header cannot carry a character above U+00FF; padding and + / already fail the
      // compact-JWS shape check; the unused bits pass it and meet the canonical check.
      const respelled = variants.filter(
        ([n]) => !n.startsWith('the high-S') && !n.includes('U+00FF'),
      )
      for (const [name, token] of respelled) {
        const r = await exchange(token)
        expect([name, r.status, r.body.error]).toStrictEqual([name, 400, 'invalid_dpop_proof'])
        expect([
          'the DPoP proof signature is not canonical base64url',
          'the DPoP proof is not a compact JWS (three base64url parts)',
        ]).toContain(r.body.error_description)
        if (name.startsWith('unused bits')) {
          expect(r.body.error_description).toBe(
            'the DPoP proof signature is not canonical base64url',
          )
        }
      }
      expect((await exchange(proof)).status).toBe(200)
      const twin = variants.find(([n]) => n.startsWith('the high-S'))![1]
      expectOAuthError(
        await exchange(twin),
        400,
        'invalid_dpop_proof',
        'the DPoP proof has already been used (jti)',
      )
      return
    }
  })
})
