import { TesseraClientError } from '../errors.js'
import { utf8Encode } from '../lib/base64url.js'
import type { CryptoProvider } from '../lib/crypto.js'
import { decodeJwt } from '../lib/jwt.js'
import type { JwksCache } from './jwks.js'

/** Claims of a validated ID token. */
export interface IdTokenClaims {
  iss: string
  sub: string
  aud: string | string[]
  exp: number
  iat: number
  nonce?: string
  sid?: string
  auth_time?: number
  azp?: string
  [claim: string]: unknown
}

export interface IdTokenExpectations {
  issuer: string
  clientId: string
  /** The nonce of the authorization request; undefined for ID tokens from a refresh. */
  nonce: string | undefined
  /** For ID tokens from a refresh: the `sub` of the session (OIDC Core 12.2). */
  sub?: string
  /** Server time now, in seconds. */
  nowSeconds: number
  /** Seconds of tolerance for `iat` and `exp`. */
  toleranceSeconds: number
  /** Signature algorithms accepted. */
  algorithms: readonly string[]
}

const fail = (message: string): never => {
  throw new TesseraClientError('id_token_invalid', message)
}

/**
 * Validates an ID token (OIDC Core 3.1.3.7): signature against the issuer's JWKS with an allowed
 * algorithm, `iss`, `aud` (and `azp` with several audiences), `nonce`, `iat`, `exp` and `sub`.
 * Rejects `alg: none`, unknown `crit` headers and tokens typed as something else (`at+jwt`).
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
 */
export async function validateIdToken(
  token: string,
  jwks: JwksCache,
  crypto: CryptoProvider,
  x: IdTokenExpectations,
): Promise<IdTokenClaims> {
  let decoded: ReturnType<typeof decodeJwt>
  try {
    decoded = decodeJwt(token)
  } catch {
    return fail('the ID token is not a well-formed JWS')
  }
  const { header, payload } = decoded
  const alg = header.alg
  if (typeof alg !== 'string' || !x.algorithms.includes(alg)) {
    return fail('the ID token is signed with an algorithm that is not allowed')
  }
  if (header.crit !== undefined)
    fail('the ID token has a crit header this client does not understand')
  if (
    header.typ !== undefined &&
    (typeof header.typ !== 'string' || !/^(application\/)?jwt$/i.test(header.typ))
  ) {
    fail('the ID token has the wrong typ')
  }
  const kid = typeof header.kid === 'string' ? header.kid : undefined
  const keys = await jwks.candidates(kid, alg)
  if (keys.length === 0) fail('no key of the issuer matches the ID token')
  const data = utf8Encode(decoded.signingInput)
  let verified = false
  for (const key of keys) {
    try {
      if (await crypto.verifySignature(alg, key, data, decoded.signature)) {
        verified = true
        break
      }
    } catch {
      // A key the platform cannot import cannot verify; try the next.
    }
  }
  if (!verified) fail('the ID token signature does not verify')

  if (payload.iss !== x.issuer) fail('the ID token iss is not the issuer')
  const aud = payload.aud
  const audList = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : undefined
  if (!audList || !audList.includes(x.clientId))
    fail('the ID token aud does not include this client')
  if (audList!.length > 1 && payload.azp === undefined) {
    fail('the ID token has several audiences and no azp')
  }
  if (payload.azp !== undefined && payload.azp !== x.clientId) {
    fail('the ID token azp is not this client')
  }
  if (typeof payload.sub !== 'string' || payload.sub === '') fail('the ID token has no sub')
  if (x.sub !== undefined && payload.sub !== x.sub) fail('the ID token sub changed')
  const { exp, iat } = payload
  if (typeof iat !== 'number' || !Number.isFinite(iat)) fail('the ID token has no iat')
  if (typeof exp !== 'number' || !Number.isFinite(exp)) fail('the ID token has no exp')
  const now = x.nowSeconds
  const tol = x.toleranceSeconds
  if ((exp as number) <= now - tol) fail('the ID token has expired')
  // exp in milliseconds, or years ahead, is a broken or forged token (JWT-09).
  if ((exp as number) > now + 10 * 365 * 86_400) fail('the ID token exp is implausibly far ahead')
  if ((iat as number) > now + tol) fail('the ID token iat is in the future')
  if (x.nonce !== undefined) {
    if (payload.nonce !== x.nonce) fail('the ID token nonce does not match the request')
  } else if (payload.nonce !== undefined && typeof payload.nonce !== 'string') {
    fail('the ID token nonce is malformed')
  }
  return payload as IdTokenClaims
}
