/**
 * STEP-01 (RFC 9470) below the bindings: the requirement options are checked when a binding is
 * built, `checkAuthentication` at its boundaries, and the challenge `challenge()` writes. The
 * bindings themselves run the requirement over HTTP in conformance/middleware-suite.ts.
 */
import { describe, expect, it } from 'vitest'
import { isVerifyError, TesseraVerifyError } from '../../src/errors.js'
import { challenge } from '../../src/http/challenge.js'
import { checkAuthentication } from '../../src/http/check-authentication.js'
import { withAuth } from '../../src/http/with-auth.js'
import * as ex from '../../src/middleware/express.js'
import * as fa from '../../src/middleware/fastify.js'
import * as ho from '../../src/middleware/hono.js'
import { createVerifier } from '../../src/verifier/create-verifier.js'
import type { VerifiedToken } from '../../src/verifier/verified-token.js'

const NOW_S = 1_800_000_000
const MFA = 'urn:tessera:acr:mfa'

const token = (claims: Record<string, unknown>): VerifiedToken =>
  ({
    claims: { sub: 'usr_alice', ...claims },
    scopes: [],
    header: { alg: 'ES256', kid: 'k' },
  }) as never

function refusal(claims: Record<string, unknown>, req: { acrValues?: string[]; maxAge?: number }) {
  try {
    checkAuthentication(token(claims), req, NOW_S * 1000 + 999)
  } catch (err) {
    if (!isVerifyError(err) || err.code !== 'insufficient_user_authentication') throw err
    return {
      message: err.message,
      acrValues: err.acrValues,
      maxAge: err.maxAge,
      scheme: err.scheme,
    }
  }
  return 'accepted'
}

describe('STEP-01 checkAuthentication', () => {
  it.each<[string, Record<string, unknown>, { acrValues?: string[]; maxAge?: number }, string]>([
    ['no requirement, no claims', {}, {}, 'accepted'],
    ['auth_time exactly maxAge old', { auth_time: NOW_S - 60 }, { maxAge: 60 }, 'accepted'],
    [
      'auth_time one second older',
      { auth_time: NOW_S - 61 },
      { maxAge: 60 },
      'this route needs a sign-in within the last 60 seconds',
    ],
    ['maxAge 0 in the same second', { auth_time: NOW_S }, { maxAge: 0 }, 'accepted'],
    [
      'maxAge 0 a second later',
      { auth_time: NOW_S - 1 },
      { maxAge: 0 },
      'this route needs a sign-in within the last 0 seconds',
    ],
    [
      'no auth_time',
      {},
      { maxAge: 60 },
      'the token has no auth_time; this route needs a recent sign-in',
    ],
    [
      'auth_time a string',
      { auth_time: `${NOW_S}` },
      { maxAge: 60 },
      'the token has no auth_time; this route needs a recent sign-in',
    ],
    ['acr listed', { acr: MFA }, { acrValues: ['x', MFA] }, 'accepted'],
    [
      'acr not listed',
      { acr: 'urn:tessera:acr:pwd' },
      { acrValues: [MFA] },
      'the authentication level (acr) is not one this route accepts',
    ],
    [
      'no acr',
      {},
      { acrValues: [MFA] },
      'the authentication level (acr) is not one this route accepts',
    ],
    [
      'acr fine, too old',
      { acr: MFA, auth_time: NOW_S - 61 },
      { acrValues: [MFA], maxAge: 60 },
      'this route needs a sign-in within the last 60 seconds',
    ],
  ])('%s', (_name, claims, req, want) => {
    const r = refusal(claims, req)
    expect(r === 'accepted' ? r : r.message).toBe(want)
    if (r !== 'accepted') expect(r).toMatchObject({ acrValues: req.acrValues, maxAge: req.maxAge })
  })

  it('a DPoP-bound token is challenged with the DPoP scheme; the challenge names acr_values and max_age', () => {
    const r = refusal({ cnf: { jkt: 'abc' }, acr: 'pwd' }, { acrValues: [MFA, 'b'], maxAge: 30 })
    expect(r).toMatchObject({ scheme: 'DPoP' })
    const err = new TesseraVerifyError('insufficient_user_authentication', 'too old', {
      acrValues: [MFA, 'b'],
      maxAge: 30,
    })
    expect(challenge(err, { realm: 'api' })).toEqual({
      status: 401,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        'www-authenticate': `Bearer realm="api", error="insufficient_user_authentication", error_description="too old", acr_values="${MFA} b", max_age="30"`,
      },
      body: JSON.stringify({
        error: 'insufficient_user_authentication',
        error_description: 'too old',
      }),
    })
    expect(challenge(err.withChallenge('DPoP', ['ES256'])).headers['www-authenticate']).toBe(
      `DPoP error="insufficient_user_authentication", error_description="too old", acr_values="${MFA} b", max_age="30", algs="ES256"`,
    )
  })
})

describe('STEP-01 requirement options are checked when a binding is built', () => {
  const verifier = createVerifier({
    issuer: 'https://auth.example.test',
    audience: 'https://api.test',
  })
  const build: [string, (o: { acrValues?: unknown; maxAge?: unknown }) => unknown][] = [
    ['fastify', (o) => fa.authenticate(verifier, o as never)],
    ['express', (o) => ex.authenticate(verifier, o as never)],
    ['hono', (o) => ho.authenticate(verifier, o as never)],
    ['fetch handler', (o) => withAuth(verifier, () => new Response(), o as never)],
  ]
  it.each(build)('%s', (_name, make) => {
    const ACR =
      'acrValues: must be a non-empty list of acr values (printable ASCII, no spaces or quotes)'
    const AGE = 'maxAge: must be a whole number of seconds, 0 or more'
    for (const [o, message] of [
      [{ acrValues: [] }, ACR],
      [{ acrValues: 'urn:x' }, ACR],
      [{ acrValues: ['a b'] }, ACR],
      [{ acrValues: ['a"b'] }, ACR],
      [{ maxAge: -1 }, AGE],
      [{ maxAge: 1.5 }, AGE],
      [{ maxAge: '60' }, AGE],
    ] as const) {
      let thrown: unknown
      try {
        make(o)
      } catch (err) {
        thrown = err
      }
      expect(thrown, JSON.stringify(o)).toMatchObject({ code: 'invalid_options', message })
    }
    expect(() => make({ acrValues: [MFA], maxAge: 0 })).not.toThrow()
  })
})
