import { TesseraVerifyError } from '../errors.js'
import type { Algorithm } from '../verifier/options.js'
import type { JwsHeader } from './decode-jws.js'

/** Registered JWS algorithm names, the only `alg` values ever repeated in a message. */
const KNOWN_ALGS = new Set([
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'ES256',
  'ES384',
  'ES512',
  'ES256K',
  'PS256',
  'PS384',
  'PS512',
  'EdDSA',
  'Ed25519',
  'Ed448',
])

const notAllowed = (reason: string) => new TesseraVerifyError('algorithm_not_allowed', reason)

/** `alg` is a string, never `none` in any case, never HMAC, and on the allow-list (JWT-01, JWT-02). */
export function checkAlgorithm(header: JwsHeader, allowed: ReadonlySet<Algorithm>): Algorithm {
  const alg = header.alg
  if (typeof alg !== 'string' || alg === '') {
    throw new TesseraVerifyError('token_malformed', 'the token is malformed: alg header is missing')
  }
  if (alg.toLowerCase() === 'none') throw notAllowed('alg none is never accepted (unsigned token)')
  if (/^hs/i.test(alg)) throw notAllowed('HMAC algorithms (HS256, HS384, HS512) are never accepted')
  if (!allowed.has(alg as Algorithm)) {
    throw notAllowed(KNOWN_ALGS.has(alg) ? `alg ${alg} is not allowed` : 'alg is not allowed')
  }
  return alg as Algorithm
}

/** RFC 7515 4.1.11: a JWS whose `crit` lists an extension we do not understand is invalid (JWT-07).
 * This verifier understands none, so any `crit` is refused. */
export function checkCrit(header: JwsHeader): void {
  if (!('crit' in header)) return
  const crit = header.crit
  if (!Array.isArray(crit) || crit.length === 0 || crit.some((c) => typeof c !== 'string')) {
    throw new TesseraVerifyError(
      'token_malformed',
      'the token is malformed: crit header must be a non-empty list of names',
    )
  }
  throw new TesseraVerifyError(
    'crit_unsupported',
    'crit header lists an extension this verifier does not support',
  )
}

/** RFC 9068 4: `typ` is `at+jwt` (or `application/at+jwt`), so an ID token, a logout token or any
 * other JWT from the same issuer is not taken for an access token (JWT-11). */
export function checkType(header: JwsHeader): void {
  const typ = header.typ
  if (typeof typ !== 'string') {
    throw new TesseraVerifyError(
      'wrong_type',
      'typ header is missing; access tokens have typ at+jwt (RFC 9068)',
    )
  }
  const t = typ.toLowerCase()
  if (t !== 'at+jwt' && t !== 'application/at+jwt') {
    throw new TesseraVerifyError(
      'wrong_type',
      'typ header is not at+jwt: ID tokens, logout tokens and other JWTs are not access tokens',
    )
  }
}

/** `kid`, when present, is a short string. It is only ever a key into the JWKS map: no file or
 * database lookup is made with it (JWT-05). */
export function checkKid(header: JwsHeader): string | undefined {
  const kid = header.kid
  if (kid === undefined) return undefined
  if (typeof kid !== 'string' || kid === '' || kid.length > 256) {
    throw new TesseraVerifyError(
      'token_malformed',
      'the token is malformed: kid header must be a string of 1 to 256 characters',
    )
  }
  return kid
}

/** A header that passed every check. */
export interface CheckedHeader {
  readonly alg: Algorithm
  readonly kid: string | undefined
}

/**
 * The header checks, in order:
 *
 * | check          | error codes                              |
 * |----------------|------------------------------------------|
 * | checkAlgorithm | token_malformed, algorithm_not_allowed   |
 * | checkCrit      | token_malformed, crit_unsupported        |
 * | checkType      | wrong_type                               |
 * | checkKid       | token_malformed                          |
 */
export function checkHeader(header: JwsHeader, allowed: ReadonlySet<Algorithm>): CheckedHeader {
  const alg = checkAlgorithm(header, allowed)
  checkCrit(header)
  checkType(header)
  return Object.freeze({ alg, kid: checkKid(header) })
}
