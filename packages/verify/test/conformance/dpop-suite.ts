import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createVerifier, type Verifier } from '../../src/verifier/create-verifier.js'
import type { VerifierOptions } from '../../src/verifier/options.js'
import type { RunningApp, StartApp } from '../helpers/apps.js'
import { dpopKey, makeProof, rawGet, type DpopKey, type ProofOptions } from '../helpers/dpop.js'
import { FakeClock, NOW_S } from '../helpers/fake-clock.js'
import {
  AUDIENCE,
  makeIssuerKeys,
  startIssuer,
  type IssuerKeys,
  type TestIssuer,
} from '../helpers/test-issuer.js'

const ALGS = 'ES256 EdDSA Ed25519 RS256 PS256'
const DPOP = (error: string, description: string) =>
  `DPoP error="${error}", error_description="${description}", algs="${ALGS}"`

/**
 * DPoP (RFC 9449) at a resource server, for every binding, over real HTTP: a DPoP-bound token
 * (`cnf.jkt`) passes only with the DPoP scheme and a valid proof for the request (method, URL,
 * `ath`, `iat` window, one use per `jti`), bearer tokens keep working, and each failure is
 * answered with an RFC 9449 7.1 challenge. Time is frozen through the verifier's clock.
 */
export function dpopSuite(name: string, start: StartApp): void {
  describe(`${name} middleware, DPoP (RFC 9449)`, () => {
    let keys: IssuerKeys
    let issuer: TestIssuer
    let clock: FakeClock
    let verifier: Verifier
    let app: RunningApp | undefined
    let key: DpopKey
    let otherKey: DpopKey

    beforeAll(async () => {
      keys = makeIssuerKeys()
      key = await dpopKey('ES256')
      otherKey = await dpopKey('ES256')
    })
    beforeEach(async () => {
      issuer = await startIssuer(keys)
      clock = new FakeClock()
      await serve()
    })
    afterEach(async () => {
      await app?.close()
      app = undefined
      await issuer.close()
    })
    afterAll(() => undefined)

    async function serve(o: Partial<VerifierOptions> = {}): Promise<void> {
      await app?.close()
      verifier = createVerifier({ issuer: issuer.url, audience: AUDIENCE, clock, ...o })
      app = await start(verifier)
    }

    const url = (path = '/api/me') => (app as RunningApp).url + path
    const bound = (k: DpopKey = key, claims: Record<string, unknown> = {}) =>
      issuer.token({ cnf: { jkt: k.jkt }, ...claims })
    const proof = (k: DpopKey, token: string, o: Partial<ProofOptions> = {}) =>
      makeProof(k, { htu: url(), iat: NOW_S, accessToken: token, ...o })

    async function get(
      headers: Record<string, string | string[]>,
      path = '/api/me',
    ): Promise<{ status: number; www: string | undefined; body: any }> {
      return rawGet(url(path), headers)
    }

    async function expectRefused(
      headers: Record<string, string | string[]>,
      error: string,
      description: string,
      path?: string,
    ) {
      const r = await get(headers, path)
      expect({ status: r.status, www: r.www, body: r.body }).toEqual({
        status: 401,
        www: DPOP(error, description),
        body: { error, error_description: description },
      })
    }

    it.each(['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'] as const)(
      'a bound token with the DPoP scheme and a valid %s proof passes',
      async (alg) => {
        const k = await dpopKey(alg)
        const token = await bound(k)
        const r = await get({ authorization: `DPoP ${token}`, dpop: proof(k, token) })
        expect(r.status, JSON.stringify(r.body)).toBe(200)
        expect(r.body).toEqual({ route: 'me', sub: 'usr_alice', scopes: ['read', 'orders'] })
      },
    )

    it('bearer tokens keep working next to DPoP', async () => {
      const r = await get({ authorization: `Bearer ${await issuer.token()}` })
      expect(r.status).toBe(200)
    })

    it('the proof is checked on every request, never cached with the token', async () => {
      const token = await bound()
      for (let i = 0; i < 3; i++) {
        expect(
          (await get({ authorization: `DPoP ${token}`, dpop: proof(key, token) })).status,
        ).toBe(200)
      }
      await expectRefused(
        { authorization: `DPoP ${token}` },
        'invalid_dpop_proof',
        'send exactly one DPoP header',
      )
      expect(verifier.stats()).toMatchObject({ fullVerifications: 1, cacheHits: 3 })
    })

    it('a DPoP-bound token presented as Bearer is refused (no downgrade), even with a proof', async () => {
      const token = await bound()
      const description = 'the access token is DPoP-bound: send it with the DPoP scheme and a proof'
      await expectRefused({ authorization: `Bearer ${token}` }, 'invalid_token', description)
      await expectRefused(
        { authorization: `Bearer ${token}`, dpop: proof(key, token) },
        'invalid_token',
        description,
      )
    })

    it('an unbound token with the DPoP scheme is refused', async () => {
      const token = await issuer.token()
      await expectRefused(
        { authorization: `DPoP ${token}`, dpop: proof(key, token) },
        'invalid_token',
        'the access token is not DPoP-bound: send it with the Bearer scheme',
      )
    })

    it('an invalid token with the DPoP scheme gets a DPoP invalid_token challenge', async () => {
      const token = await bound(key, { exp: NOW_S - 10 })
      await expectRefused(
        { authorization: `DPoP ${token}`, dpop: proof(key, token) },
        'invalid_token',
        'the token has expired (exp)',
      )
    })

    it('a bound token lacking a scope gets 403 insufficient_scope with a DPoP challenge', async () => {
      const token = await bound(key, { scope: 'read' })
      const r = await get(
        { authorization: `DPoP ${token}`, dpop: proof(key, token, { htu: url('/api/orders') }) },
        '/api/orders',
      )
      expect(r.status).toBe(403)
      expect(r.www).toBe(
        'DPoP error="insufficient_scope", error_description="the token lacks the scope orders", scope="orders"',
      )
    })

    const rows: [
      string,
      (
        token: string,
      ) => Record<string, string | string[]> | Promise<Record<string, string | string[]>>,
      string,
    ][] = [
      ['no DPoP header', () => ({}), 'send exactly one DPoP header'],
      [
        'two DPoP headers',
        (t) => ({ dpop: [proof(key, t), proof(key, t)] }),
        'send exactly one DPoP header',
      ],
      [
        'a proof of another key',
        (t) => ({ dpop: proof(otherKey, t) }),
        'the DPoP proof key is not the key the access token is bound to',
      ],
      [
        'htm POST on a GET',
        (t) => ({ dpop: proof(key, t, { htm: 'POST' }) }),
        'htm claim of the DPoP proof must be GET',
      ],
      [
        'htu of another path',
        (t) => ({ dpop: proof(key, t, { htu: url('/api/orders') }) }),
        'htu claim of the DPoP proof must be URL/api/me',
      ],
      [
        'htu of another host (localhost is not 127.0.0.1)',
        (t) => ({ dpop: proof(key, t, { htu: url().replace('127.0.0.1', 'localhost') }) }),
        'htu claim of the DPoP proof must be URL/api/me',
      ],
      [
        'iat 61 s in the past',
        (t) => ({ dpop: proof(key, t, { iat: NOW_S - 61 }) }),
        'iat claim of the DPoP proof is more than 60 s in the past',
      ],
      [
        'iat 61 s in the future',
        (t) => ({ dpop: proof(key, t, { iat: NOW_S + 61 }) }),
        'iat claim of the DPoP proof is more than 60 s in the future',
      ],
      [
        'no ath',
        (t) => ({ dpop: proof(key, t, { claims: { ath: undefined } }) }),
        'ath claim of the DPoP proof is required with an access token',
      ],
      [
        'ath of another token',
        (t) => ({ dpop: proof(key, t, { accessToken: `${t}x` }) }),
        'ath claim of the DPoP proof does not match the access token',
      ],
      [
        'no jti',
        (t) => ({ dpop: proof(key, t, { claims: { jti: undefined } }) }),
        'jti claim of the DPoP proof must be a string of 1 to 256 characters',
      ],
      [
        'a private jwk',
        (t) => ({ dpop: proof(key, t, { header: { jwk: key.privateJwk } }) }),
        'jwk header of the DPoP proof must be a public key (it has private members)',
      ],
      [
        'alg none',
        (t) => ({ dpop: proof(key, t, { header: { alg: 'none' } }) }),
        'alg none is not allowed for DPoP proofs',
      ],
      [
        'alg HS256',
        (t) => ({ dpop: proof(key, t, { header: { alg: 'HS256' } }) }),
        'symmetric algorithms (HS256 ...) are not allowed for DPoP proofs',
      ],
      [
        'a bad signature',
        (t) => ({ dpop: proof(key, t, { signWith: otherKey.privateKey }) }),
        'the DPoP proof signature is invalid',
      ],
      [
        'typ JWT',
        (t) => ({ dpop: proof(key, t, { header: { typ: 'JWT' } }) }),
        'typ header of the DPoP proof must be dpop+jwt',
      ],
      [
        'crit',
        (t) => ({ dpop: proof(key, t, { header: { crit: ['x'], x: 1 } }) }),
        'crit header of the DPoP proof is not supported',
      ],
      [
        'alg ES256 with an Ed25519 jwk',
        async (t) => ({
          dpop: proof(key, t, { header: { jwk: (await dpopKey('EdDSA')).publicJwk } }),
        }),
        'jwk header of the DPoP proof is not a ES256 key',
      ],
      [
        'an RSA key of 1024 bits',
        async (t) => {
          const weak = await dpopKey('RS256', 1024)
          return { dpop: proof(weak, t) }
        },
        'jwk header of the DPoP proof is unusable: RSA keys must have at least 2048 bits',
      ],
      [
        'not a JWS',
        () => ({ dpop: 'not-a-proof' }),
        'the DPoP proof is not a compact JWS (three base64url parts)',
      ],
    ]

    it.each(rows)('%s: 401 invalid_dpop_proof', async (_name, headers, description) => {
      const token = await bound()
      await expectRefused(
        { authorization: `DPoP ${token}`, ...(await headers(token)) },
        'invalid_dpop_proof',
        description.replace('URL', (app as RunningApp).url),
      )
    })

    it('a proof is accepted once: its replay is refused while it could pass the iat check', async () => {
      const token = await bound()
      const p = proof(key, token)
      expect((await get({ authorization: `DPoP ${token}`, dpop: p })).status).toBe(200)
      clock.set((NOW_S + 60) * 1000)
      await expectRefused(
        { authorization: `DPoP ${token}`, dpop: p },
        'invalid_dpop_proof',
        'the DPoP proof has already been used (jti)',
      )
    })

    it('iat exactly 60 s either side of now is accepted', async () => {
      const token = await bound()
      for (const iat of [NOW_S - 60, NOW_S + 60]) {
        const r = await get({ authorization: `DPoP ${token}`, dpop: proof(key, token, { iat }) })
        expect(r.status, JSON.stringify(r.body)).toBe(200)
      }
    })

    it('htu is compared without query and fragment, normalised', async () => {
      const token = await bound()
      const u = new URL(url())
      const htu = `HTTP://${u.host}/x/../api/%6De?q=1#f`
      const r = await get(
        { authorization: `DPoP ${token}`, dpop: proof(key, token, { htu }) },
        '/api/me?z=2',
      )
      expect(r.status, JSON.stringify(r.body)).toBe(200)
    })

    it('dpop.origin: the proof names the public origin, whatever host the request reached', async () => {
      await serve({ dpop: { origin: 'https://api.example.test' } })
      const token = await bound()
      const good = proof(key, token, { htu: 'https://api.example.test/api/me' })
      expect((await get({ authorization: `DPoP ${token}`, dpop: good })).status).toBe(200)
      await expectRefused(
        { authorization: `DPoP ${token}`, dpop: proof(key, token) },
        'invalid_dpop_proof',
        'htu claim of the DPoP proof must be https://api.example.test/api/me',
      )
    })

    it('dpop.required: bearer tokens are refused with a DPoP challenge', async () => {
      await serve({ dpop: { required: true } })
      await expectRefused(
        { authorization: `Bearer ${await issuer.token()}` },
        'invalid_token',
        'this API accepts DPoP-bound access tokens only',
      )
      const token = await bound()
      expect((await get({ authorization: `DPoP ${token}`, dpop: proof(key, token) })).status).toBe(
        200,
      )
    })

    it('dpop.algorithms narrows the proof algorithms, and the challenges list them', async () => {
      await serve({ dpop: { algorithms: ['EdDSA'] } })
      const token = await bound()
      const r = await get({ authorization: `DPoP ${token}`, dpop: proof(key, token) })
      expect(r.www).toBe(
        'DPoP error="invalid_dpop_proof", error_description="alg header of the DPoP proof must be one of EdDSA", algs="EdDSA"',
      )
    })

    it('a token whose cnf is not a jkt binding is refused, not taken for a bearer token', async () => {
      const token = await issuer.token({ cnf: { 'x5t#S256': 'abc' } })
      const r = await get({ authorization: `Bearer ${token}` })
      expect(r.status).toBe(401)
      expect(r.body.error_description).toBe('cnf claim is not a DPoP key binding (jkt)')
    })
  })
}
