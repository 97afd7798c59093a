/**
 * DPoP in the verifier itself, without a framework: `verify` refusing bound tokens,
 * `verifyRequest`, the replay stores, the RFC 7638 thumbprint, the options and the challenges.
 * The middleware behaviour is in test/conformance/dpop-suite.ts.
 */
import { calculateJwkThumbprint } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jwkThumbprint } from '../../src/dpop/jwk-thumbprint.js'
import { MemoryReplayStore } from '../../src/dpop/replay-store.js'
import { TesseraVerifyError } from '../../src/errors.js'
import { challenge } from '../../src/http/challenge.js'
import { createVerifier } from '../../src/verifier/create-verifier.js'
import type { VerifierOptions } from '../../src/verifier/options.js'
import { dpopKey, makeProof, type DpopKey } from '../helpers/dpop.js'
import { FakeClock, NOW, NOW_S } from '../helpers/fake-clock.js'
import { AUDIENCE, startIssuer, type TestIssuer } from '../helpers/test-issuer.js'

let issuer: TestIssuer
let key: DpopKey
beforeAll(async () => {
  issuer = await startIssuer()
  key = await dpopKey('ES256')
})
afterAll(async () => {
  await issuer.close()
})

const URL_ME = 'https://api.example.test/me'

function verifierWith(o: Partial<VerifierOptions> = {}) {
  return createVerifier({ issuer: issuer.url, audience: AUDIENCE, clock: new FakeClock(), ...o })
}

async function failure(p: Promise<unknown>): Promise<TesseraVerifyError> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(TesseraVerifyError)
    return err as TesseraVerifyError
  }
  throw new Error('expected a failure')
}

describe('verify() and verifyRequest()', () => {
  it('verify(token) refuses a DPoP-bound token: it is not a bearer token', async () => {
    const token = await issuer.token({ cnf: { jkt: key.jkt } })
    const err = await failure(verifierWith().verify(token))
    expect({ code: err.code, message: err.message, scheme: err.scheme }).toEqual({
      code: 'dpop_bound',
      message: 'the access token is DPoP-bound: send it with the DPoP scheme and a proof',
      scheme: 'DPoP',
    })
  })

  it('verifyRequest with a valid proof resolves to the same frozen token object verify() would cache', async () => {
    const v = verifierWith()
    const token = await issuer.token({ cnf: { jkt: key.jkt } })
    const request = () => ({
      method: 'GET',
      url: URL_ME,
      authorization: `DPoP ${token}`,
      dpop: makeProof(key, { htu: URL_ME, iat: NOW_S, accessToken: token }),
    })
    const a = await v.verifyRequest(request())
    const b = await v.verifyRequest(request())
    expect(a).toBe(b)
    expect(Object.isFrozen(a)).toBe(true)
    expect(a.claims.cnf).toEqual({ jkt: key.jkt })
  })

  it('errors of verifyRequest carry the scheme to challenge with and the proof algorithms', async () => {
    const v = verifierWith({ dpop: { algorithms: ['ES256', 'Ed25519'] } })
    const token = await issuer.token({ cnf: { jkt: key.jkt } })
    const err = await failure(
      v.verifyRequest({ method: 'GET', url: URL_ME, authorization: `DPoP ${token}`, dpop: null }),
    )
    expect(err.scheme).toBe('DPoP')
    expect(err.dpopAlgorithms).toEqual(['ES256', 'Ed25519'])
    expect(challenge(err, { realm: 'orders' }).headers['www-authenticate']).toBe(
      'DPoP realm="orders", error="invalid_dpop_proof", error_description="send exactly one DPoP header", algs="ES256 Ed25519"',
    )
    const none = await failure(
      v.verifyRequest({ method: 'GET', url: URL_ME, authorization: undefined, dpop: undefined }),
    )
    expect(challenge(none, { realm: 'orders' }).headers['www-authenticate']).toBe(
      'Bearer realm="orders", DPoP realm="orders", algs="ES256 Ed25519"',
    )
  })

  it('a DPoP header that is not a token68 string is token_malformed with a DPoP challenge', async () => {
    const err = await failure(
      verifierWith().verifyRequest({
        method: 'GET',
        url: URL_ME,
        authorization: 'DPoP a b',
        dpop: undefined,
      }),
    )
    expect(err.code).toBe('token_malformed')
    expect(err.message).toBe(
      'the token is malformed: the DPoP credentials are not a token68 string',
    )
    expect(err.scheme).toBe('DPoP')
  })
})

describe('replay stores', () => {
  it('a custom replayStore gets a hashed key and the expiry of the iat window, and decides', async () => {
    const calls: [string, number][] = []
    let answer = true
    const v = verifierWith({
      dpop: {
        replayStore: {
          use: (k, expiresAt) => {
            calls.push([k, expiresAt])
            return Promise.resolve(answer)
          },
        },
      },
    })
    const token = await issuer.token({ cnf: { jkt: key.jkt } })
    const proof = makeProof(key, { htu: URL_ME, iat: NOW_S - 10, accessToken: token, jti: 'j1' })
    const req = { method: 'GET', url: URL_ME, authorization: `DPoP ${token}`, dpop: proof }
    await v.verifyRequest(req)
    expect(calls).toHaveLength(1)
    const [k, expiresAt] = calls[0]!
    expect(k).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(k).not.toContain('j1')
    expect(expiresAt).toBe((NOW_S - 10) * 1000 + 60_000 + 1)
    answer = false
    const err = await failure(v.verifyRequest(req))
    expect(err.message).toBe('the DPoP proof has already been used (jti)')
  })

  it('the in-memory store accepts a key once until it expires, and stays within its size', () => {
    const clock = new FakeClock()
    const store = new MemoryReplayStore(3, clock)
    expect(store.use('a', NOW + 1000)).toBe(true)
    expect(store.use('a', NOW + 5000)).toBe(false)
    clock.advance(1000)
    expect(store.use('a', NOW + 2000)).toBe(true)
    for (const k of ['b', 'c', 'd', 'e']) expect(store.use(k, NOW + 60_000)).toBe(true)
    expect(store.size).toBe(3)
  })
})

describe('RFC 7638 thumbprints', () => {
  it('the RFC 7638 3.1 example key gives the RFC value', () => {
    const jwk = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
      alg: 'RS256',
      kid: '2011-04-29',
    }
    expect(jwkThumbprint(jwk)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs')
  })

  it.each(['ES256', 'EdDSA', 'RS256'] as const)('matches jose for a %s key', async (alg) => {
    const k = await dpopKey(alg)
    expect(jwkThumbprint(k.publicJwk as Record<string, unknown>)).toBe(
      await calculateJwkThumbprint(k.publicJwk, 'sha256'),
    )
  })

  it('is undefined for a key type it does not cover', () => {
    expect(jwkThumbprint({ kty: 'oct', k: 'abc' })).toBeUndefined()
    expect(jwkThumbprint({ kty: 'EC', crv: 'P-256', x: 'a' })).toBeUndefined()
  })
})

describe('dpop options are validated when the verifier is built', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['not an object', { dpop: 'on' }, 'dpop: must be an object'],
    [
      'no algorithms',
      { dpop: { algorithms: [] } },
      'dpop.algorithms: must be a non-empty list of ES256, EdDSA, Ed25519, RS256, PS256',
    ],
    [
      'HS256',
      { dpop: { algorithms: ['HS256'] } },
      'dpop.algorithms: only ES256, EdDSA, Ed25519, RS256, PS256 are supported',
    ],
    [
      'window too short',
      { dpop: { proofWindow: 4 } },
      'dpop.proofWindow: must be a number of seconds from 5 to 300',
    ],
    [
      'window too long',
      { dpop: { proofWindow: 301 } },
      'dpop.proofWindow: must be a number of seconds from 5 to 300',
    ],
    ['required not boolean', { dpop: { required: 'yes' } }, 'dpop.required: must be true or false'],
    [
      'origin with a path',
      { dpop: { origin: 'https://api.example.test/v1' } },
      'dpop.origin: must be an origin only (scheme, host and port), e.g. https://api.example.com',
    ],
    [
      'origin not http(s)',
      { dpop: { origin: 'ftp://api.example.test' } },
      'dpop.origin: must be an origin only (scheme, host and port), e.g. https://api.example.com',
    ],
    [
      'replayStore without use',
      { dpop: { replayStore: {} } },
      'dpop.replayStore: must have a use(key, expiresAt) method',
    ],
    [
      'replayCacheSize 0',
      { dpop: { replayCacheSize: 0 } },
      'dpop.replayCacheSize: must be a whole number from 1 to 10000000',
    ],
  ])('%s', (_name, o, message) => {
    let err: unknown
    try {
      createVerifier({ issuer: 'https://auth.example.test', audience: AUDIENCE, ...o })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(TesseraVerifyError)
    expect((err as TesseraVerifyError).code).toBe('invalid_options')
    expect((err as TesseraVerifyError).message).toBe(message)
  })

  it('an http origin on an internal network is fine (it is only compared)', () => {
    expect(() =>
      createVerifier({
        issuer: 'https://auth.example.test',
        audience: AUDIENCE,
        dpop: { origin: 'http://orders.internal:8080' },
      }),
    ).not.toThrow()
  })
})
