import { describe, expect, it } from 'vitest'
import { isVerifyError, TesseraVerifyError, type VerifyError } from '../../src/errors.js'
import { createVerifier } from '../../src/verifier/create-verifier.js'
import type { VerifierOptions } from '../../src/verifier/options.js'

const base: VerifierOptions = { issuer: 'https://auth.example.test', audience: 'https://api.test' }

function optionsError(o: Partial<VerifierOptions> | Record<string, unknown>): string {
  try {
    createVerifier({ ...base, ...o })
  } catch (err) {
    expect(err).toBeInstanceOf(TesseraVerifyError)
    expect((err as TesseraVerifyError).code).toBe('invalid_options')
    return (err as Error).message
  }
  return 'accepted'
}

describe('options are validated when the verifier is built', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['issuer missing', { issuer: undefined }, 'issuer: must be an absolute URL'],
    ['issuer relative', { issuer: '/auth' }, 'issuer: must be an absolute URL'],
    [
      'issuer http off loopback',
      { issuer: 'http://auth.example.test' },
      'issuer: must use https (http only on loopback, or with allowInsecureRequests)',
    ],
    ['issuer with fragment', { issuer: 'https://a.test/#x' }, 'issuer: must not have a fragment'],
    ['issuer with query', { issuer: 'https://a.test/?x=1' }, 'issuer: must not have a query'],
    [
      'issuer with credentials',
      { issuer: 'https://u:p@a.test' },
      'issuer: must not contain credentials',
    ],
    [
      'audience empty',
      { audience: '' },
      'audience: must be a non-empty string or a non-empty list of them',
    ],
    [
      'audience empty list',
      { audience: [] },
      'audience: must be a non-empty string or a non-empty list of them',
    ],
    [
      'HS256 allowed',
      { algorithms: ['HS256'] },
      'algorithms: only ES256, EdDSA, RS256, PS256 are supported (never none or HS*)',
    ],
    [
      'none allowed',
      { algorithms: ['none'] },
      'algorithms: only ES256, EdDSA, RS256, PS256 are supported (never none or HS*)',
    ],
    [
      'no algorithms',
      { algorithms: [] },
      'algorithms: must be a non-empty list of ES256, EdDSA, RS256, PS256',
    ],
    [
      'tolerance over 60 s (REL-10)',
      { clockTolerance: 61 },
      'clockTolerance: must be a number of seconds from 0 to 60',
    ],
    [
      'negative tolerance',
      { clockTolerance: -1 },
      'clockTolerance: must be a number of seconds from 0 to 60',
    ],
    [
      'tolerance in ms by mistake',
      { clockTolerance: 5000 },
      'clockTolerance: must be a number of seconds from 0 to 60',
    ],
    [
      'tiny token size',
      { maxTokenSize: 10 },
      'maxTokenSize: must be a whole number from 256 to 65536',
    ],
    [
      'zero cache',
      { cache: { maxEntries: 0 } },
      'cache.maxEntries: must be a whole number from 1 to 10000000',
    ],
    ['bad scope', { requiredScopes: ['a b'] }, 'requiredScopes: contains an invalid scope token'],
    [
      'bad claim check',
      { claims: { roles: {} } },
      'claims.roles: must be a string, number, boolean or predicate',
    ],
    [
      'jwksUri over http',
      { jwksUri: 'http://keys.example.test/jwks' },
      'jwksUri: must use https (http only on loopback, or with allowInsecureRequests)',
    ],
    [
      'introspection without secret',
      { introspection: { clientId: 'rs' } },
      'introspection.clientSecret: is required',
    ],
    [
      'introspection cache over 60 s',
      { introspection: { clientId: 'rs', clientSecret: 's', cacheTtl: 61 } },
      'introspection.cacheTtl: must be a number of seconds from 0 to 60',
    ],
    [
      'cooldown negative',
      { jwks: { cooldown: -1 } },
      'jwks.cooldown: must be a number of seconds from 0 to 3600',
    ],
    ['clock without now', { clock: {} }, 'clock: must have a now() method'],
  ])('%s is refused', (_name, o, message) => {
    expect(optionsError(o)).toBe(message)
  })

  it('loopback http issuers are allowed, others only with allowInsecureRequests', () => {
    expect(optionsError({ issuer: 'http://127.0.0.1:4000' })).toBe('accepted')
    expect(optionsError({ issuer: 'http://localhost:4000' })).toBe('accepted')
    expect(optionsError({ issuer: 'http://[::1]:4000' })).toBe('accepted')
    expect(optionsError({ issuer: 'http://tessera:4000', allowInsecureRequests: true })).toBe(
      'accepted',
    )
  })

  it('no request is made when the verifier is built', () => {
    let calls = 0
    createVerifier({
      ...base,
      fetch: () => {
        calls++
        return Promise.reject(new Error('no'))
      },
    })
    expect(calls).toBe(0)
  })
})

describe('errors', () => {
  it('switch (err.code) narrows to the fields of each code', () => {
    const describeError = (err: VerifyError): string => {
      switch (err.code) {
        case 'insufficient_scope':
          return `needs ${err.scopes.join(' ')}`
        case 'expired':
        case 'claim_missing':
          return `claim ${err.claim}`
        default:
          return err.code
      }
    }
    const scope = new TesseraVerifyError('insufficient_scope', 'm', { scopes: ['a', 'b'] })
    const claim = new TesseraVerifyError('expired', 'm', { claim: 'exp' })
    expect(isVerifyError(scope) && describeError(scope)).toBe('needs a b')
    expect(isVerifyError(claim) && describeError(claim)).toBe('claim exp')
    expect(isVerifyError(new Error('x'))).toBe(false)
  })
})
