import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { createVerifier, type Verifier } from '../../src/verifier/create-verifier.js'
import type { VerifierOptions } from '../../src/verifier/options.js'
import { MFA, type RunningApp, type StartApp } from '../helpers/apps.js'
import { dpopKey, makeProof } from '../helpers/dpop.js'
import { FakeClock, NOW_S } from '../helpers/fake-clock.js'
import { craft, hmacSigner, makeKey, makeWeakRsaKey, rawSignature } from '../helpers/keys.js'
import { dpopSuite } from './dpop-suite.js'
import {
  AUDIENCE,
  makeIssuerKeys,
  startIssuer,
  type IssuerKeys,
  type TestIssuer,
} from '../helpers/test-issuer.js'

interface Answer {
  status: number
  www: string | null
  retryAfter: string | null
  text: string
  body: any
}

/** RFC 9449 7.1: a request without credentials is offered both schemes. */
const NO_TOKEN = 'Bearer, DPoP algs="ES256 EdDSA Ed25519 RS256 PS256"'

const INVALID = (description: string) =>
  `Bearer error="invalid_token", error_description="${description}"`

const MSG = {
  none: 'alg none is never accepted (unsigned token)',
  hmac: 'HMAC algorithms (HS256, HS384, HS512) are never accepted',
  sig: 'the token signature is invalid',
  unknownKid: 'no key in the JWKS has this kid',
  unusable: (reason: string) => `the JWKS key with this kid is unusable: ${reason}`,
  crit: 'crit header lists an extension this verifier does not support',
  expired: 'the token has expired (exp)',
  nbf: 'the token is not valid yet (nbf)',
  iat: 'the token was issued in the future (iat)',
  lifetime: 'exp claim is more than 86400 s after iat (maxTokenLifetime)',
  iss: 'iss claim is not the expected issuer',
  aud: 'aud claim does not contain this API',
  typ: 'typ header is not at+jwt: ID tokens, logout tokens and other JWTs are not access tokens',
  noTyp: 'typ header is missing; access tokens have typ at+jwt (RFC 9068)',
} as const

/**
 * The conformance suite every middleware binding passes: JWT-01 to JWT-18 of
 * SECURITY-CHECKLIST.md, TOK-02, the RFC 6750 answers and DPoP (dpop-suite.ts), each over real
 * HTTP against a real server. Time is frozen through the verifier's injected clock; the JWKS comes from a test issuer
 * we can rotate, break and count. No test is skipped for any binding.
 */
export function middlewareSuite(name: string, start: StartApp): void {
  describe(`${name} middleware`, () => {
    let keys: IssuerKeys
    let issuer: TestIssuer
    let clock: FakeClock
    let verifier: Verifier
    let app: RunningApp | undefined

    beforeAll(() => {
      keys = makeIssuerKeys()
    })
    beforeEach(async () => {
      issuer = await startIssuer(keys)
      clock = new FakeClock()
    })
    afterEach(async () => {
      await app?.close()
      app = undefined
      await issuer.close()
    })
    afterAll(() => undefined)

    /** A fresh verifier (default options unless overridden) behind a fresh app. */
    async function serve(o: Partial<VerifierOptions> = {}): Promise<void> {
      await app?.close()
      verifier = createVerifier({ issuer: issuer.url, audience: AUDIENCE, clock, ...o })
      app = await start(verifier)
    }

    async function call(
      token: string | undefined,
      path = '/api/me',
      headers: Record<string, string> = {},
    ): Promise<Answer> {
      const res = await fetch((app as RunningApp).url + path, {
        headers: {
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...headers,
        },
      })
      const text = await res.text()
      let body: unknown = text
      try {
        body = JSON.parse(text)
      } catch {
        // not JSON
      }
      const www = res.headers.get('www-authenticate')
      // The token is never echoed, in any answer.
      if (token !== undefined && token.length > 20 && res.status !== 200) {
        expect(text).not.toContain(token)
        expect(www ?? '').not.toContain(token)
        expect(text).not.toContain(token.split('.')[2] || token.slice(-20))
      }
      return { status: res.status, www, retryAfter: res.headers.get('retry-after'), text, body }
    }

    async function expectInvalid(token: string, description: string, path = '/api/me') {
      const r = await call(token, path)
      expect({ status: r.status, www: r.www, body: r.body }).toEqual({
        status: 401,
        www: INVALID(description),
        body: { error: 'invalid_token', error_description: description },
      })
    }

    async function expectOk(token: string, path = '/api/me') {
      const r = await call(token, path)
      expect(r.status, r.text).toBe(200)
      expect(r.body.sub).toBe('usr_alice')
      return r
    }

    describe('valid tokens and RFC 6750 answers', () => {
      it.each(['ES256', 'EdDSA', 'RS256', 'PS256'] as const)(
        'a valid %s access token passes and the handler sees its claims',
        async (alg) => {
          await serve()
          const r = await expectOk(await issuer.token({}, { key: keys[alg] }))
          expect(r.body).toEqual({ route: 'me', sub: 'usr_alice', scopes: ['read', 'orders'] })
        },
      )

      it('a request without a token gets 401 with bare Bearer and DPoP challenges', async () => {
        await serve()
        const r = await call(undefined)
        expect(r.status).toBe(401)
        expect(r.www).toBe(NO_TOKEN)
        expect(r.body).toEqual({
          error: 'unauthorized',
          error_description: 'no access token was presented',
        })
      })

      it('another Authorization scheme is treated as no token', async () => {
        await serve()
        const r = await call(undefined, '/api/me', { authorization: 'Basic dXNlcjpwYXNz' })
        expect(r.status).toBe(401)
        expect(r.www).toBe(NO_TOKEN)
        expect(r.body.error_description).toBe(
          'the Authorization header is not a Bearer or DPoP token',
        )
      })

      it('Bearer credentials that are not a token68 string are invalid_token', async () => {
        await serve()
        const r = await call(undefined, '/api/me', { authorization: 'Bearer a b' })
        expect(r.status).toBe(401)
        expect(r.www).toBe(
          INVALID('the token is malformed: the Bearer credentials are not a token68 string'),
        )
      })

      it('TOK-02 an access token in the query string is rejected with 400 invalid_request', async () => {
        await serve()
        const token = await issuer.token()
        const description =
          'the access token must be sent in the Authorization header, never in the URL'
        for (const r of [
          await call(undefined, `/api/me?access_token=${token}`),
          // Even alongside a valid header: the token has leaked into the URL.
          await call(token, `/api/me?x=1&access_token=${token}`),
          // However the name is encoded.
          await call(undefined, `/api/me?access%5Ftoken=${token}`),
        ]) {
          expect(r.status).toBe(400)
          expect(r.www).toBe(`Bearer error="invalid_request", error_description="${description}"`)
          expect(r.body).toEqual({ error: 'invalid_request', error_description: description })
          expect(r.text).not.toContain(token)
        }
      })

      it('a missing scope gets 403 insufficient_scope naming the scope (requireScope and the scopes option)', async () => {
        await serve()
        const token = await issuer.token({ scope: 'read' })
        const orders = await call(token, '/api/orders')
        expect(orders.status).toBe(403)
        expect(orders.www).toBe(
          'Bearer error="insufficient_scope", error_description="the token lacks the scope orders", scope="orders"',
        )
        expect(orders.body).toEqual({
          error: 'insufficient_scope',
          error_description: 'the token lacks the scope orders',
        })
        const write = await call(token, '/write')
        expect(write.status).toBe(403)
        expect(write.www).toBe(
          'Bearer error="insufficient_scope", error_description="the token lacks the scope write", scope="write"',
        )
        const all = await issuer.token({ scope: 'read orders write' })
        expect((await call(all, '/api/orders')).body.route).toBe('orders')
        expect((await call(all, '/write')).body.route).toBe('write')
      })

      it('a token presented 100 times is verified once (verified-token cache)', async () => {
        await serve()
        const token = await issuer.token()
        for (let i = 0; i < 100; i++) expect((await call(token)).status).toBe(200)
        expect(verifier.stats()).toMatchObject({
          fullVerifications: 1,
          cacheHits: 99,
          cacheEntries: 1,
          jwksRequests: 1,
        })
      })
    })

    describe('STEP-01 step-up challenges (RFC 9470)', () => {
      const FRESH_MSG = 'this route needs a sign-in within the last 60 seconds'
      const ACR_MSG = 'the authentication level (acr) is not one this route accepts'
      const stepUp = (description: string, extra: string, scheme = 'Bearer') =>
        `${scheme} error="insufficient_user_authentication", error_description="${description}", ${extra}`

      it('maxAge: auth_time exactly maxAge seconds old passes, one second older gets 401 with max_age', async () => {
        await serve()
        const ok = await issuer.token({ auth_time: NOW_S - 60 })
        expect((await expectOk(ok, '/fresh')).body.route).toBe('fresh')
        const old = await issuer.token({ auth_time: NOW_S - 61 })
        const r = await call(old, '/fresh')
        expect({ status: r.status, www: r.www, body: r.body }).toEqual({
          status: 401,
          www: stepUp(FRESH_MSG, 'max_age="60"'),
          body: { error: 'insufficient_user_authentication', error_description: FRESH_MSG },
        })
        // The same token is good where no recent sign-in is asked for.
        await expectOk(old)
      })

      it('maxAge is judged by the verifier clock: a cached token that was fresh goes stale', async () => {
        await serve()
        const token = await issuer.token({ auth_time: NOW_S - 30 })
        await expectOk(token, '/fresh')
        clock.advance(31_000)
        const r = await call(token, '/fresh')
        expect(r.status).toBe(401)
        expect(r.www).toBe(stepUp(FRESH_MSG, 'max_age="60"'))
        expect(verifier.stats().cacheHits).toBe(1)
      })

      it('maxAge: a token without auth_time is refused with the challenge', async () => {
        await serve()
        const r = await call(await issuer.token(), '/fresh')
        const msg = 'the token has no auth_time; this route needs a recent sign-in'
        expect({ status: r.status, www: r.www }).toEqual({
          status: 401,
          www: stepUp(msg, 'max_age="60"'),
        })
      })

      it('acrValues: a password-only or missing acr gets 401 with acr_values; mfa passes', async () => {
        await serve()
        for (const acr of ['urn:tessera:acr:pwd', undefined, 7]) {
          const r = await call(await issuer.token({ acr, scope: 'write' }), '/strong')
          expect({ status: r.status, www: r.www, body: r.body }).toEqual({
            status: 401,
            www: stepUp(ACR_MSG, 'acr_values="urn:tessera:acr:mfa"'),
            body: { error: 'insufficient_user_authentication', error_description: ACR_MSG },
          })
        }
        const strong = await issuer.token({ acr: MFA, scope: 'write' })
        expect((await expectOk(strong, '/strong')).body.route).toBe('strong')
      })

      it('the sign-in is judged before the scopes: a weak token without the scope gets the 401 step-up, a strong one the 403', async () => {
        await serve()
        const weak = await call(await issuer.token({ acr: 'urn:tessera:acr:pwd' }), '/strong')
        expect(weak.status).toBe(401)
        const strong = await call(await issuer.token({ acr: MFA }), '/strong')
        expect(strong.status).toBe(403)
        expect(strong.body.error).toBe('insufficient_scope')
      })

      it('a DPoP-bound token gets the challenge with the DPoP scheme', async () => {
        await serve()
        const key = await dpopKey()
        const token = await issuer.token({ cnf: { jkt: key.jkt }, auth_time: NOW_S - 61 })
        const url = (app as RunningApp).url + '/fresh'
        const res = await fetch(url, {
          headers: {
            authorization: `DPoP ${token}`,
            dpop: makeProof(key, { htu: url, iat: NOW_S, accessToken: token }),
          },
        })
        expect(res.status).toBe(401)
        expect(res.headers.get('www-authenticate')).toBe(stepUp(FRESH_MSG, 'max_age="60"', 'DPoP'))
      })
    })

    describe('JWT-01 alg none', () => {
      it.each(['none', 'None', 'NONE', 'nOnE'])(
        'JWT-01 alg %s is rejected, with or without a signature',
        async (alg) => {
          await serve()
          const header = { alg, typ: 'at+jwt', kid: 'k-es256' }
          const claims = JSON.parse(
            Buffer.from((await issuer.token()).split('.')[1] as string, 'base64url').toString(),
          )
          await expectInvalid(craft(header, claims, 'none'), MSG.none)
          await expectInvalid(
            craft(header, claims, () => randomBytes(64)),
            MSG.none,
          )
        },
      )

      it('JWT-01 a real token with its signature stripped is rejected', async () => {
        await serve()
        const token = await issuer.token()
        await expectInvalid(token.slice(0, token.lastIndexOf('.') + 1), MSG.sig)
      })
    })

    describe('one token, one string', () => {
      it('a signature rewritten in the standard base64 alphabet (+ /) is rejected though it decodes the same', async () => {
        await serve()
        let token = ''
        for (let n = 0; n < 100 && !/[-_]/.test(token.slice(token.lastIndexOf('.') + 1)); n++) {
          token = await issuer.token({ n }, { key: keys.RS256 })
        }
        const at =
          token.lastIndexOf('.') + 1 + token.slice(token.lastIndexOf('.') + 1).search(/[-_]/)
        const std = token[at] === '-' ? '+' : '/'
        await expectOk(token)
        await expectInvalid(`${token.slice(0, at)}${std}${token.slice(at + 1)}`, MSG.sig)
      })
    })

    describe('JWT-02 key confusion', () => {
      it('JWT-02 HS256 tokens keyed with our public RSA or EC key are rejected', async () => {
        await serve()
        const secrets = [
          keys.RS256.publicKey.export({ format: 'pem', type: 'spki' }),
          keys.ES256.publicKey.export({ format: 'pem', type: 'spki' }),
          keys.RS256.publicKey.export({ format: 'der', type: 'spki' }),
          JSON.stringify(keys.RS256.jwk),
          Buffer.from(keys.RS256.jwk.n as string, 'base64url'),
        ]
        for (const secret of secrets) {
          for (const alg of ['HS256', 'HS384', 'hs256']) {
            for (const kid of ['k-rs256', 'k-es256', undefined]) {
              const header = { alg, typ: 'at+jwt', ...(kid ? { kid } : {}) }
              const token = craft(
                header,
                { iss: issuer.url, aud: AUDIENCE, sub: 'x', exp: NOW_S + 60 },
                hmacSigner(secret),
              )
              await expectInvalid(token, MSG.hmac)
            }
          }
        }
      })
    })

    describe('JWT-03 wrong key type, curve or size', () => {
      it("JWT-03 an allowed alg that is not the kid's key's own algorithm is rejected", async () => {
        await serve()
        const rows: [string, string, string][] = [
          ['ES256', 'k-rs256', 'RS256'],
          ['PS256', 'k-rs256', 'RS256'],
          ['RS256', 'k-ps256', 'PS256'],
          ['RS256', 'k-es256', 'ES256'],
          ['EdDSA', 'k-es256', 'ES256'],
          ['ES256', 'k-eddsa', 'EdDSA'],
        ]
        for (const [alg, kid, keyAlg] of rows) {
          const signer = alg === 'ES256' ? keys.ES256 : alg === 'EdDSA' ? keys.EdDSA : keys.RS256
          const token = issuer.raw(
            { alg, typ: 'at+jwt', kid },
            {},
            { ...signer, alg: alg as never },
          )
          await expectInvalid(
            token,
            `alg ${alg} is not the algorithm of the key with this kid (${keyAlg})`,
          )
        }
      })

      it('JWT-03 keys on other curves, RSA below 2048 bits, symmetric keys and contradictory algs are never used', async () => {
        const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' })
        const weak = makeWeakRsaKey('k-weak')
        const spare = makeKey('ES256', 'k-spare')
        issuer.jwks.push(
          { ...p384.publicKey.export({ format: 'jwk' }), kid: 'k-p384', alg: 'ES256', use: 'sig' },
          weak.jwk,
          { kty: 'oct', k: 'c2hvcnQ', kid: 'k-oct', alg: 'HS256' },
          { ...spare.jwk, kid: 'k-liar', alg: 'RS256' },
        )
        await serve()
        const es = (kid: string) => issuer.raw({ alg: 'ES256', typ: 'at+jwt', kid })
        await expectInvalid(
          es('k-p384'),
          MSG.unusable('only the P-256 curve is supported for EC keys'),
        )
        await expectInvalid(
          issuer.raw({ alg: 'RS256', typ: 'at+jwt', kid: 'k-weak' }, {}, weak),
          MSG.unusable('RSA keys must have at least 2048 bits'),
        )
        await expectInvalid(es('k-oct'), MSG.unusable('symmetric (oct) keys are never used'))
        await expectInvalid(
          issuer.raw({ alg: 'HS256', typ: 'at+jwt', kid: 'k-oct' }, {}, weak),
          MSG.hmac,
        )
        await expectInvalid(
          issuer.raw({ alg: 'ES256', typ: 'at+jwt', kid: 'k-liar' }, {}, spare),
          MSG.unusable('its alg does not match its type (a P-256 key is ES256)'),
        )
        // A P-384 signature under an ES256 header, checked against our P-256 key.
        const p384Token = craft(
          { alg: 'ES256', typ: 'at+jwt', kid: 'k-es256' },
          { a: 1 },
          (input) => rawSignature({ alg: 'ES256', privateKey: p384.privateKey }, input),
        )
        await expectInvalid(p384Token, MSG.sig)
      })

      it('JWT-03 an algorithm left out of the allow-list is rejected even with the right key', async () => {
        await serve({ algorithms: ['ES256'] })
        await expectOk(await issuer.token())
        await expectInvalid(await issuer.token({}, { key: keys.RS256 }), 'alg RS256 is not allowed')
        await expectInvalid(
          issuer.raw({ alg: 'ES512', typ: 'at+jwt', kid: 'k-es256' }),
          'alg ES512 is not allowed',
        )
        await expectInvalid(
          issuer.raw({ alg: 'X<"bad">', typ: 'at+jwt', kid: 'k-es256' }),
          'alg is not allowed',
        )
      })
    })

    describe('JWT-04 ECDSA', () => {
      it('JWT-04 signatures r=s=0 and r=s=n are rejected (CVE-2022-21449)', async () => {
        await serve()
        const n = Buffer.from(
          'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551',
          'hex',
        )
        const good = await issuer.token()
        const input = good.slice(0, good.lastIndexOf('.'))
        for (const sig of [Buffer.alloc(64), Buffer.concat([n, n]), Buffer.alloc(32)]) {
          await expectInvalid(`${input}.${sig.toString('base64url')}`, MSG.sig)
        }
      })

      it('JWT-04 a JWKS key whose point is not on the curve is never used', async () => {
        const y = Buffer.from(keys.ES256.jwk.y as string, 'base64url')
        y[31] = (y[31] as number) ^ 1
        issuer.jwks.push({ ...keys.ES256.jwk, kid: 'k-offcurve', y: y.toString('base64url') })
        const zero = Buffer.alloc(32).toString('base64url')
        issuer.jwks.push({ ...keys.ES256.jwk, kid: 'k-zero', x: zero, y: zero })
        await serve()
        for (const kid of ['k-offcurve', 'k-zero']) {
          await expectInvalid(
            issuer.raw({ alg: 'ES256', typ: 'at+jwt', kid }),
            MSG.unusable('it is not a valid public key'),
          )
        }
      })
    })

    describe('JWT-05 kid tricks', () => {
      it('JWT-05 kid path traversal, SQL and unknown kids are rejected and only looked up in the JWKS', async () => {
        await serve()
        await expectOk(await issuer.token())
        for (const kid of [
          '../../dev/null',
          "' OR '1'='1' --",
          'unknown',
          '/etc/passwd',
          '__proto__',
        ]) {
          await expectInvalid(issuer.raw({ alg: 'ES256', typ: 'at+jwt', kid }), MSG.unknownKid)
        }
        // Within the cooldown none of them fetched the JWKS again.
        expect(issuer.jwksHits()).toBe(1)
        for (const kid of [42, '', 'k'.repeat(257)]) {
          await expectInvalid(
            issuer.raw({ alg: 'ES256', typ: 'at+jwt', kid }),
            'the token is malformed: kid header must be a string of 1 to 256 characters',
          )
        }
      })
    })

    describe('JWT-06 embedded and remote key headers', () => {
      it('JWT-06 jku, x5u, jwk and x5c headers are ignored: only the configured JWKS is used', async () => {
        await serve()
        const attacker = makeKey('ES256', 'attacker')
        const evil = {
          jku: `${issuer.url}/evil-jwks`,
          x5u: `${issuer.url}/evil-cert`,
          jwk: attacker.jwk,
          x5c: [randomBytes(300).toString('base64')],
        }
        // Self-signed with the embedded key, under its own kid, under ours, and without kid.
        await expectInvalid(
          issuer.raw({ alg: 'ES256', typ: 'at+jwt', kid: 'attacker', ...evil }, {}, attacker),
          MSG.unknownKid,
        )
        await expectInvalid(
          issuer.raw({ alg: 'ES256', typ: 'at+jwt', kid: 'k-es256', ...evil }, {}, attacker),
          MSG.sig,
        )
        await expectInvalid(
          issuer.raw({ alg: 'ES256', typ: 'at+jwt', ...evil }, {}, attacker),
          MSG.sig,
        )
        // Our own token carrying the headers still verifies, against our key.
        await expectOk(issuer.raw({ alg: 'ES256', typ: 'at+jwt', kid: 'k-es256', ...evil }))
        expect(issuer.hits.get('/evil-jwks')).toBeUndefined()
        expect(issuer.hits.get('/evil-cert')).toBeUndefined()
      })
    })

    describe('JWT-07 crit', () => {
      it('JWT-07 crit naming an unknown extension is rejected, and a malformed crit too', async () => {
        await serve()
        const base = { alg: 'ES256', typ: 'at+jwt', kid: 'k-es256' }
        await expectInvalid(issuer.raw({ ...base, crit: ['x'], x: 1 }), MSG.crit)
        await expectInvalid(issuer.raw({ ...base, crit: ['b64'], b64: false }), MSG.crit)
        await expectInvalid(issuer.raw({ ...base, crit: ['exp'] }), MSG.crit)
        for (const crit of [[], 'x', [1]]) {
          await expectInvalid(
            issuer.raw({ ...base, crit }),
            'the token is malformed: crit header must be a non-empty list of names',
          )
        }
      })
    })

    describe('JWT-08 time claims at the boundaries, time frozen', () => {
      for (const tolerance of [5, 15, 0]) {
        it(`JWT-08 exp, nbf and iat at the ${tolerance} s tolerance boundary +/- 1 s`, async () => {
          await serve({ clockTolerance: tolerance, cache: false })
          const t = NOW_S
          const rows: [Record<string, number>, string | null][] = [
            [{ exp: t - tolerance }, MSG.expired],
            [{ exp: t - tolerance - 1 }, MSG.expired],
            [{ exp: t - tolerance + 1 }, null],
            [{ nbf: t + tolerance }, null],
            [{ nbf: t + tolerance + 1 }, MSG.nbf],
            [{ nbf: t + tolerance - 1 }, null],
            [{ iat: t + tolerance, exp: t + tolerance + 600 }, null],
            [{ iat: t + tolerance + 1, exp: t + tolerance + 601 }, MSG.iat],
          ]
          for (const [claims, error] of rows) {
            const token = await issuer.token({ iat: t - 60, ...claims })
            if (error === null) await expectOk(token)
            else await expectInvalid(token, error)
          }
        })
      }

      it('JWT-08 a cached token stops passing once the clock passes its exp', async () => {
        await serve({ clockTolerance: 5 })
        const token = await issuer.token({ exp: NOW_S + 60 })
        await expectOk(token)
        clock.advance(59_000)
        await expectOk(token)
        expect(verifier.stats().cacheHits).toBe(1)
        // At exp the cache entry is gone; the tolerance still lets the full check pass...
        clock.advance(1_000)
        await expectOk(token)
        expect(verifier.stats()).toMatchObject({ cacheHits: 1, cacheEntries: 0 })
        // ...until exp + tolerance.
        clock.advance(5_000)
        await expectInvalid(token, MSG.expired)
      })
    })

    describe('JWT-09 exp in milliseconds, iat far in the past', () => {
      it('JWT-09 exp in ms, iat in ms, iat far in the past and non-numeric dates are rejected', async () => {
        await serve()
        const t = NOW_S
        await expectInvalid(await issuer.token({ exp: (t + 600) * 1000 }), MSG.lifetime)
        await expectInvalid(
          await issuer.token({ iat: t - 30 * 86_400, exp: t + 600 }),
          MSG.lifetime,
        )
        await expectInvalid(await issuer.token({ iat: t * 1000 }), MSG.iat)
        await expectInvalid(
          await issuer.token({ exp: String(t + 600) }),
          'exp claim is not a NumericDate',
        )
        await expectInvalid(
          await issuer.token({ iat: undefined }),
          'iat claim is missing (RFC 9068 2.2)',
        )
        await expectInvalid(await issuer.token({ exp: t, iat: t }), 'exp claim is not after iat')
      })
    })

    describe('JWT-10 issuer and audience', () => {
      it('JWT-10 a wrong iss is rejected', async () => {
        await serve()
        for (const iss of [`${issuer.url}/`, 'https://evil.example', issuer.url.toUpperCase()]) {
          await expectInvalid(await issuer.token({ iss }), MSG.iss)
        }
        await expectInvalid(
          await issuer.token({ iss: undefined }),
          'iss claim is missing (RFC 9068 2.2)',
        )
      })

      it('JWT-10 aud absent, wrong, or an array without us is rejected; an array with us passes', async () => {
        await serve()
        await expectInvalid(
          await issuer.token({ aud: undefined }),
          'aud claim is missing (RFC 9068 2.2)',
        )
        await expectInvalid(await issuer.token({ aud: 'https://api-b.example.test' }), MSG.aud)
        await expectInvalid(await issuer.token({ aud: [] }), MSG.aud)
        await expectInvalid(
          await issuer.token({ aud: ['https://api-b.example.test', `${AUDIENCE}/`] }),
          MSG.aud,
        )
        await expectInvalid(
          await issuer.token({ aud: 42 }),
          'aud claim is not a string or a list of strings',
        )
        await expectOk(await issuer.token({ aud: ['https://api-b.example.test', AUDIENCE] }))
      })
    })

    describe('JWT-11 token types', () => {
      it('JWT-11 an ID token and a logout token presented as access tokens are rejected by typ', async () => {
        await serve()
        const idToken = await issuer.token(
          { aud: AUDIENCE, nonce: 'n-1', azp: 'web-app', at_hash: 'x' },
          { typ: 'JWT' },
        )
        await expectInvalid(idToken, MSG.typ)
        const logout = await issuer.token(
          { events: { 'http://schemas.openid.net/event/backchannel-logout': {} }, sid: 's' },
          { typ: 'logout+jwt' },
        )
        await expectInvalid(logout, MSG.typ)
        await expectInvalid(issuer.raw({ alg: 'ES256', kid: 'k-es256' }), MSG.noTyp)
      })

      it('JWT-11 typ at+jwt is compared case-insensitively and may carry the application/ prefix', async () => {
        await serve()
        for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt', 'Application/AT+JWT']) {
          await expectOk(await issuer.token({}, { typ }))
        }
      })
    })

    describe('JWT-13 encrypted tokens', () => {
      it('JWT-13 a JWE (five parts) is rejected without decrypting or decompressing anything', async () => {
        await serve()
        const header = Buffer.from(
          JSON.stringify({ alg: 'PBES2-HS256+A128KW', enc: 'A128GCM', zip: 'DEF', p2c: 1e9 }),
        ).toString('base64url')
        await expectInvalid(
          `${header}.AAAA.AAAA.AAAA.AAAA`,
          'the token is malformed: encrypted tokens (JWE) are not accepted',
        )
        expect(issuer.jwksHits()).toBe(0)
      })
    })

    describe('JWT-15 oversized tokens', () => {
      it('JWT-15 a token over 8 KiB gets 400 before any key lookup or crypto', async () => {
        await serve()
        const big = await issuer.token({ pad: 'x'.repeat(9000) })
        const r = await call(big)
        const description = 'the token is longer than 8192 bytes'
        expect(r.status).toBe(400)
        expect(r.www).toBe(`Bearer error="invalid_request", error_description="${description}"`)
        expect(issuer.jwksHits()).toBe(0)
        expect(verifier.stats().fullVerifications).toBe(0)
      })

      it('JWT-15 a 1 MB token and a 64 KB Authorization header get 431 from the server', async () => {
        await serve()
        for (const size of [64 * 1024, 1024 * 1024]) {
          const status = await rawStatus((app as RunningApp).url, 'x'.repeat(size))
          expect(status).toBe(431)
        }
        expect(issuer.jwksHits()).toBe(0)
      })
    })

    describe('JWT-16 JWKS content', () => {
      it('JWT-16 a JWKS key with private members, a duplicated kid or use=enc is never used', async () => {
        const leaked = makeKey('ES256', 'k-leaked')
        const dupA = makeKey('ES256', 'k-dup')
        const dupB = makeKey('ES256', 'k-dup')
        const enc = makeKey('ES256', 'k-enc')
        issuer.jwks.push(
          { ...leaked.privateKey.export({ format: 'jwk' }), kid: 'k-leaked', alg: 'ES256' },
          dupA.jwk,
          dupB.jwk,
          { ...enc.jwk, use: 'enc' },
        )
        await serve()
        await expectInvalid(
          issuer.raw({ alg: 'ES256', typ: 'at+jwt', kid: 'k-leaked' }, {}, leaked),
          MSG.unusable('it contains private key members; a JWKS must publish public keys only'),
        )
        await expectInvalid(
          issuer.raw({ alg: 'ES256', typ: 'at+jwt', kid: 'k-dup' }, {}, dupA),
          'the JWKS lists this kid more than once',
        )
        await expectInvalid(
          issuer.raw({ alg: 'ES256', typ: 'at+jwt', kid: 'k-enc' }, {}, enc),
          MSG.unusable('its use is not sig'),
        )
        // The well-formed keys of the same set still work.
        await expectOk(await issuer.token())
      })
    })

    describe('JWT-17 key rotation at the issuer', () => {
      it('JWT-17 a key published ahead is known before it signs; a retired key stops verifying', async () => {
        await serve({ cache: false })
        const oldKey = keys.ES256
        const newKey = makeKey('ES256', 'k-next')
        const long = { exp: NOW_S + 3600 }
        await expectOk(await issuer.token(long))
        expect(issuer.jwksHits()).toBe(1)

        // The issuer publishes the next key; after one cache lifetime the verifier has it.
        issuer.jwks.push(newKey.jwk)
        clock.advance(300_000)
        await expectOk(await issuer.token(long, { key: oldKey }))
        await expectOk(await issuer.token(long, { key: newKey }))
        expect(issuer.jwksHits()).toBe(2)

        // The old key leaves the JWKS; after the next refresh its tokens are rejected.
        issuer.jwks = issuer.jwks.filter((k) => k.kid !== oldKey.kid)
        clock.advance(300_000)
        const old = await issuer.token(long, { key: oldKey })
        await vi.waitFor(async () => expect((await call(old)).status).toBe(401), {
          timeout: 2000,
        })
        await expectInvalid(old, MSG.unknownKid)
        await expectOk(await issuer.token(long, { key: newKey }))
        expect(issuer.jwksHits()).toBe(3)
      })

      it('JWT-17 a token from a key the verifier has not seen triggers one refetch after the cooldown', async () => {
        await serve()
        await expectOk(await issuer.token())
        const next = makeKey('RS256', 'k-surprise')
        issuer.jwks.push(next.jwk)
        clock.advance(30_000)
        await expectOk(await issuer.token({}, { key: next }))
        expect(issuer.jwksHits()).toBe(2)
      })
    })

    describe('JWT-18 unknown kids and JWKS outages', () => {
      it('JWT-18 unknown kids sent repeatedly cause at most one JWKS refetch per 30 s cooldown', async () => {
        await serve()
        await expectOk(await issuer.token())
        expect(issuer.jwksHits()).toBe(1)
        const unknown = () =>
          issuer.raw({ alg: 'ES256', typ: 'at+jwt', kid: randomBytes(6).toString('hex') })
        for (let i = 0; i < 10; i++) await expectInvalid(unknown(), MSG.unknownKid)
        expect(issuer.jwksHits()).toBe(1)

        clock.advance(29_999)
        await expectInvalid(unknown(), MSG.unknownKid)
        expect(issuer.jwksHits()).toBe(1)

        clock.advance(1)
        // 20 at once, right as the cooldown ends: one refetch between them.
        const answers = await Promise.all(Array.from({ length: 20 }, () => call(unknown())))
        expect(answers.map((a) => a.status)).toEqual(Array(20).fill(401))
        expect(issuer.jwksHits()).toBe(2)
        for (let i = 0; i < 10; i++) await expectInvalid(unknown(), MSG.unknownKid)
        expect(issuer.jwksHits()).toBe(2)
      })

      it('JWT-18 during a JWKS outage cached keys keep verifying; unknown kids get 503', async () => {
        await serve({ cache: false })
        await expectOk(await issuer.token())
        issuer.jwksFailure = 503
        // Past the key set's max age: the background refresh fails, the keys are kept.
        clock.advance(301_000)
        for (let i = 0; i < 5; i++) await expectOk(await issuer.token({ iat: NOW_S + 300 }))
        const r = await call(issuer.raw({ alg: 'ES256', typ: 'at+jwt', kid: 'k-unseen' }))
        const description =
          "the token's key is not among the cached keys and the JWKS could not be fetched"
        expect({ status: r.status, www: r.www, retryAfter: r.retryAfter, body: r.body }).toEqual({
          status: 503,
          www: null,
          retryAfter: '5',
          body: { error: 'temporarily_unavailable', error_description: description },
        })
        expect(issuer.jwksHits()).toBe(2)
        await expectOk(await issuer.token({ iat: NOW_S + 300 }))

        // The issuer comes back; after the cooldown the unseen key is fetched.
        const unseen = makeKey('ES256', 'k-unseen')
        issuer.jwks.push(unseen.jwk)
        issuer.jwksFailure = undefined
        clock.advance(30_000)
        await expectOk(await issuer.token({ iat: NOW_S + 330 }, { key: unseen }))
        expect(issuer.jwksHits()).toBe(3)
      })

      it('JWT-18 with no keys loaded yet, an outage gets 503 and is retried only after the cooldown', async () => {
        issuer.jwksFailure = 500
        await serve()
        const token = await issuer.token()
        for (let i = 0; i < 3; i++) {
          const r = await call(token)
          expect(r.status).toBe(503)
          expect(r.body).toEqual({
            error: 'temporarily_unavailable',
            error_description: "the issuer's signing keys could not be fetched",
          })
        }
        expect(issuer.jwksHits()).toBe(1)
        issuer.jwksFailure = undefined
        clock.advance(30_000)
        await expectOk(token)
        expect(issuer.jwksHits()).toBe(2)
      })
    })
  })
  dpopSuite(name, start)
}

/**
 * Sends a request with an Authorization header of any size over a raw socket and returns the
 * status code. The server may answer 431 and close before the whole header is written; the status
 * line is what counts.
 */
function rawStatus(base: string, token: string): Promise<number> {
  const url = new URL(base)
  return new Promise((resolve, reject) => {
    let data = ''
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.write(
        `GET /api/me HTTP/1.1\r\nhost: ${url.host}\r\nauthorization: Bearer ${token}\r\nconnection: close\r\n\r\n`,
      )
    })
    const done = () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data)
      if (m) resolve(Number(m[1]))
      else reject(new Error(`no HTTP status line in ${JSON.stringify(data.slice(0, 80))}`))
    }
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1')
    })
    // A reset after the answer is expected: the server stopped reading the oversized header.
    socket.on('error', () => done())
    socket.on('close', () => done())
  })
}
