import { claimError, TesseraVerifyError } from '../errors.js'
import { RFC9068_CLAIMS, type ResolvedOptions } from '../verifier/options.js'

/** Context of one claims check: the options and the time, in whole seconds. */
export interface ClaimsContext {
  o: ResolvedOptions
  now: number
}

type Claims = Record<string, unknown>
type ClaimsCheck = (claims: Claims, ctx: ClaimsContext) => void

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

/** RFC 9068 2.2 claims are present with the right JSON types. */
function checkRequired(claims: Claims, { o }: ClaimsContext): void {
  for (const name of RFC9068_CLAIMS) {
    if (claims[name] === undefined) {
      throw claimError('claim_missing', name, `${name} claim is missing (RFC 9068 2.2)`)
    }
  }
  for (const name of o.requiredClaims) {
    if (claims[name] === undefined) {
      throw claimError('claim_missing', name, `${name} claim is missing`)
    }
  }
  for (const name of ['iss', 'sub', 'client_id', 'jti'] as const) {
    if (typeof claims[name] !== 'string') {
      throw claimError('claim_invalid', name, `${name} claim is not a string`)
    }
  }
  for (const name of ['exp', 'iat'] as const) {
    if (!isNumber(claims[name])) {
      throw claimError('claim_invalid', name, `${name} claim is not a NumericDate`)
    }
  }
  if (claims.nbf !== undefined && !isNumber(claims.nbf)) {
    throw claimError('claim_invalid', 'nbf', 'nbf claim is not a NumericDate')
  }
  if (claims.scope !== undefined && typeof claims.scope !== 'string') {
    throw claimError('claim_invalid', 'scope', 'scope claim is not a space-separated string')
  }
}

/** `iss` is exactly the configured issuer (RFC 8725 3.8, JWT-10). */
function checkIssuer(claims: Claims, { o }: ClaimsContext): void {
  if (claims.iss !== o.issuer) {
    throw claimError('wrong_issuer', 'iss', 'iss claim is not the expected issuer')
  }
}

/** `aud` is the audience, or an array containing it (RFC 8725 3.9, RFC 9068 4, TOK-06). */
function checkAudience(claims: Claims, { o }: ClaimsContext): void {
  const aud = claims.aud
  if (typeof aud === 'string') {
    if (o.audiences.includes(aud)) return
  } else if (Array.isArray(aud)) {
    for (const a of aud as unknown[]) {
      if (typeof a !== 'string') {
        throw claimError('claim_invalid', 'aud', 'aud claim is not a string or a list of strings')
      }
    }
    for (const a of aud as string[]) if (o.audiences.includes(a)) return
  } else {
    throw claimError('claim_invalid', 'aud', 'aud claim is not a string or a list of strings')
  }
  throw claimError('wrong_audience', 'aud', 'aud claim does not contain this API')
}

/** `exp` has not passed; `nbf` and `iat` are not in the future; all within the tolerance
 * (RFC 7519 4.1.4, 4.1.5, JWT-08). */
function checkTimes(claims: Claims, { o, now }: ClaimsContext): void {
  const tol = o.toleranceSec
  if (now >= (claims.exp as number) + tol) {
    throw claimError('expired', 'exp', 'the token has expired (exp)')
  }
  if (claims.nbf !== undefined && (claims.nbf as number) > now + tol) {
    throw claimError('not_yet_valid', 'nbf', 'the token is not valid yet (nbf)')
  }
  if ((claims.iat as number) > now + tol) {
    throw claimError('not_yet_valid', 'iat', 'the token was issued in the future (iat)')
  }
}

/** The token does not live longer than `maxTokenLifetime`: catches `exp` in milliseconds and an
 * `iat` far in the past (JWT-09). */
function checkLifetime(claims: Claims, { o }: ClaimsContext): void {
  const life = (claims.exp as number) - (claims.iat as number)
  if (life > o.maxLifetimeSec) {
    throw claimError(
      'claim_invalid',
      'exp',
      `exp claim is more than ${o.maxLifetimeSec} s after iat (maxTokenLifetime)`,
    )
  }
  if (life <= 0) throw claimError('claim_invalid', 'exp', 'exp claim is not after iat')
}

/** Values the configuration requires (`claims` option). */
function checkValues(claims: Claims, { o }: ClaimsContext): void {
  for (const [name, expected] of o.claims) {
    const v = claims[name]
    if (v === undefined) throw claimError('claim_missing', name, `${name} claim is missing`)
    const ok = typeof expected === 'function' ? expected(v) === true : v === expected
    if (!ok) {
      throw claimError('claim_invalid', name, `${name} claim does not have the required value`)
    }
  }
}

/** Scopes every token must carry (`requiredScopes` option). */
function checkScopes(claims: Claims, { o }: ClaimsContext): void {
  if (o.requiredScopes.length === 0) return
  const missing = missingScopes(scopesOf(claims), o.requiredScopes)
  if (missing.length > 0) throw insufficientScope(missing, o.requiredScopes)
}

/**
 * The claims checks, in order. Each throws a {@link TesseraVerifyError} naming the claim.
 *
 * | check          | error codes                                  |
 * |----------------|----------------------------------------------|
 * | checkRequired  | claim_missing, claim_invalid                 |
 * | checkIssuer    | wrong_issuer                                 |
 * | checkAudience  | wrong_audience, claim_invalid                |
 * | checkTimes     | expired, not_yet_valid                       |
 * | checkLifetime  | claim_invalid                                |
 * | checkValues    | claim_missing, claim_invalid                 |
 * | checkScopes    | insufficient_scope                           |
 */
export const CLAIMS_CHECKS: readonly ClaimsCheck[] = [
  checkRequired,
  checkIssuer,
  checkAudience,
  checkTimes,
  checkLifetime,
  checkValues,
  checkScopes,
]

export function checkClaims(claims: Claims, ctx: ClaimsContext): void {
  for (const check of CLAIMS_CHECKS) check(claims, ctx)
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
