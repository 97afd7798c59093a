import { claimError, TesseraVerifyError } from '../errors.js'
import { RFC9068_CLAIMS, type ResolvedOptions } from '../verifier/options.js'

type Claims = Record<string, unknown>

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

/**
 * The claims checks of an access token, in this order; the first failure is thrown as a
 * {@link TesseraVerifyError} naming the claim. `now` is in whole seconds.
 *
 * | step | check                                                                    | error codes                 |
 * |------|--------------------------------------------------------------------------|-----------------------------|
 * | 1    | RFC 9068 2.2 claims present (iss, aud, exp, iat, sub, client_id, jti), then `requiredClaims` | claim_missing |
 * | 2    | their JSON types; `nbf` a NumericDate and `scope` a string when present  | claim_invalid               |
 * | 3    | `iss` is exactly the configured issuer (RFC 8725 3.8, JWT-10)            | wrong_issuer                |
 * | 4    | `aud` is the audience or a list of strings containing it (RFC 9068 4)    | wrong_audience, claim_invalid |
 * | 5    | `exp` not passed; `nbf`, `iat` not in the future; all within the tolerance (JWT-08) | expired, not_yet_valid |
 * | 6    | `exp - iat` within `maxTokenLifetime` and positive (JWT-09)              | claim_invalid               |
 * | 7    | values the `claims` option requires                                      | claim_missing, claim_invalid |
 * | 8    | scopes every token must carry (`requiredScopes`)                         | insufficient_scope          |
 *
 * One function reading named members, not a loop over names: this runs on every cold
 * verification, and keyed reads with changing names are the slow kind in V8.
 */
export function checkClaims(claims: Claims, o: ResolvedOptions, now: number): void {
  const { iss, aud, exp, iat, sub, client_id: clientId, jti, nbf, scope } = claims
  if (
    iss === undefined ||
    aud === undefined ||
    exp === undefined ||
    iat === undefined ||
    sub === undefined ||
    clientId === undefined ||
    jti === undefined
  ) {
    const name = RFC9068_CLAIMS.find((n) => claims[n] === undefined) as string
    throw claimError('claim_missing', name, `${name} claim is missing (RFC 9068 2.2)`)
  }
  for (const name of o.requiredClaims) {
    if (claims[name] === undefined) {
      throw claimError('claim_missing', name, `${name} claim is missing`)
    }
  }
  if (typeof iss !== 'string') throw notA('iss', 'a string')
  if (typeof sub !== 'string') throw notA('sub', 'a string')
  if (typeof clientId !== 'string') throw notA('client_id', 'a string')
  if (typeof jti !== 'string') throw notA('jti', 'a string')
  if (!isNumber(exp)) throw notA('exp', 'a NumericDate')
  if (!isNumber(iat)) throw notA('iat', 'a NumericDate')
  if (nbf !== undefined && !isNumber(nbf)) throw notA('nbf', 'a NumericDate')
  if (scope !== undefined && typeof scope !== 'string') {
    throw notA('scope', 'a space-separated string')
  }

  if (iss !== o.issuer)
    throw claimError('wrong_issuer', 'iss', 'iss claim is not the expected issuer')

  if (!hasAudience(aud, o.audiences)) {
    throw claimError('wrong_audience', 'aud', 'aud claim does not contain this API')
  }

  const tol = o.toleranceSec
  if (now >= exp + tol) throw claimError('expired', 'exp', 'the token has expired (exp)')
  if (nbf !== undefined && nbf > now + tol) {
    throw claimError('not_yet_valid', 'nbf', 'the token is not valid yet (nbf)')
  }
  if (iat > now + tol) {
    throw claimError('not_yet_valid', 'iat', 'the token was issued in the future (iat)')
  }

  // catches `exp` in milliseconds and an `iat` far in the past
  const life = exp - iat
  if (life > o.maxLifetimeSec) {
    throw claimError(
      'claim_invalid',
      'exp',
      `exp claim is more than ${o.maxLifetimeSec} s after iat (maxTokenLifetime)`,
    )
  }
  if (life <= 0) throw claimError('claim_invalid', 'exp', 'exp claim is not after iat')

  for (const [name, expected] of o.claims) {
    const v = claims[name]
    if (v === undefined) throw claimError('claim_missing', name, `${name} claim is missing`)
    const ok = typeof expected === 'function' ? expected(v) === true : v === expected
    if (!ok) {
      throw claimError('claim_invalid', name, `${name} claim does not have the required value`)
    }
  }

  if (o.requiredScopes.length > 0) {
    const missing = missingScopes(scopesOf(claims), o.requiredScopes)
    if (missing.length > 0) throw insufficientScope(missing, o.requiredScopes)
  }
}

function notA(name: string, what: string): TesseraVerifyError {
  return claimError('claim_invalid', name, `${name} claim is not ${what}`)
}

/** `aud` is one of the audiences, or an array of strings with one of them; any other shape is
 * claim_invalid. */
function hasAudience(aud: unknown, audiences: readonly string[]): boolean {
  if (typeof aud === 'string') return audiences.includes(aud)
  if (!Array.isArray(aud) || (aud as unknown[]).some((a) => typeof a !== 'string')) {
    throw claimError('claim_invalid', 'aud', 'aud claim is not a string or a list of strings')
  }
  return (aud as string[]).some((a) => audiences.includes(a))
}

const NO_SCOPES: readonly string[] = Object.freeze([])

/** The space-separated `scope` claim as a list (RFC 9068 2.2.3, RFC 6749 3.3). */
export function scopesOf(claims: Claims): readonly string[] {
  const scope = claims.scope
  if (typeof scope !== 'string' || scope === '') return NO_SCOPES
  const list = scope.split(' ')
  return list.includes('') ? list.filter((s) => s !== '') : list
}

export function missingScopes(have: readonly string[], need: readonly string[]): string[] {
  return need.filter((s) => !have.includes(s))
}

export function insufficientScope(
  missing: readonly string[],
  required: readonly string[],
): TesseraVerifyError {
  const list = missing.join(', ')
  return new TesseraVerifyError(
    'insufficient_scope',
    `the token lacks the scope${missing.length > 1 ? 's' : ''} ${list}`,
    { scopes: required },
  )
}
