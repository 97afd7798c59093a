import { TesseraVerifyError } from '../errors.js'
import type { VerifiedToken } from '../verifier/verified-token.js'

/**
 * What a route needs of the sign-in behind a token (RFC 9470): an authentication level among
 * `acrValues`, and one at most `maxAge` seconds old. A token that falls short is refused with 401
 * `insufficient_user_authentication`, whose challenge tells the client what to ask the
 * authorization server for (`acr_values`, `max_age` at `/authorize`).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9470#section-3
 */
export interface AuthenticationRequirement {
  /** `acr` values the route accepts (any one of them), e.g. `['urn:tessera:acr:mfa']`. A token
   * without `acr`, or with another value, is refused. Default: any. */
  acrValues?: readonly string[]
  /** Seconds since the sign-in (`auth_time`) the route accepts, by the verifier's clock, without
   * tolerance. A token without `auth_time` is refused. Default: no limit. */
  maxAge?: number
}

/** The requirement of a binding's options, checked when the binding is built. */
export function requirementOf(o: AuthenticationRequirement): AuthenticationRequirement {
  const { acrValues, maxAge } = o
  if (
    acrValues !== undefined &&
    (!Array.isArray(acrValues) ||
      acrValues.length === 0 ||
      acrValues.some((v) => typeof v !== 'string' || !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(v)))
  ) {
    throw new TesseraVerifyError(
      'invalid_options',
      'acrValues: must be a non-empty list of acr values (printable ASCII, no spaces or quotes)',
    )
  }
  if (maxAge !== undefined && !(Number.isSafeInteger(maxAge) && maxAge >= 0)) {
    throw new TesseraVerifyError(
      'invalid_options',
      'maxAge: must be a whole number of seconds, 0 or more',
    )
  }
  return {
    ...(o.acrValues ? { acrValues: Object.freeze([...o.acrValues]) } : {}),
    ...(maxAge !== undefined ? { maxAge } : {}),
  }
}

/**
 * Throws `insufficient_user_authentication` unless the token's `acr` is one of
 * `requirement.acrValues` and its `auth_time` at most `requirement.maxAge` seconds before `now`
 * (milliseconds since the epoch). For a DPoP-bound token the challenge is a DPoP one.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9470#section-3
 */
export function checkAuthentication(
  token: VerifiedToken,
  requirement: AuthenticationRequirement,
  now: number,
): void {
  const { acrValues, maxAge } = requirement
  if (acrValues === undefined && maxAge === undefined) return
  const { acr, auth_time: authTime } = token.claims
  let reason: string | undefined
  if (acrValues !== undefined && (typeof acr !== 'string' || !acrValues.includes(acr))) {
    reason = 'the authentication level (acr) is not one this route accepts'
  } else if (maxAge !== undefined) {
    if (typeof authTime !== 'number' || !Number.isFinite(authTime)) {
      reason = 'the token has no auth_time; this route needs a recent sign-in'
    } else if (Math.floor(now / 1000) - authTime > maxAge) {
      reason = `this route needs a sign-in within the last ${maxAge} seconds`
    }
  }
  if (reason === undefined) return
  const err = new TesseraVerifyError('insufficient_user_authentication', reason, {
    acrValues,
    maxAge,
  })
  throw typeof token.claims.cnf?.jkt === 'string' ? err.withChallenge('DPoP', []) : err
}
