import { importJWK, jwtVerify, type CryptoKey, type JWTPayload } from 'jose'
import type { ServerContext } from '../context.js'
import { InvalidToken } from '../oauth/errors.js'

const LEEWAY_SECONDS = 15

/**
 * Verifies an access token this server issued for itself (`aud` = the issuer), with the key found
 * by `kid` among the server's own keys; nothing is fetched and no other key is tried (JWT-05).
 */
export async function verifyOwnAccessToken(ctx: ServerContext, token: string): Promise<JWTPayload> {
  if (token.length > 8192) throw new InvalidToken('the access token is too long')
  try {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        const loaded = header.kid === undefined ? undefined : ctx.keys.publicKey(header.kid)
        if (!loaded || header.alg !== loaded.record.alg) throw new Error('unknown key')
        return (await importJWK(loaded.publicJwk, loaded.record.alg)) as CryptoKey
      },
      {
        issuer: ctx.config.issuer,
        audience: ctx.config.issuer,
        typ: 'at+jwt',
        // Each key is bound to its own alg above; `none` and HMAC are never accepted (JWT-01/02).
        algorithms: ['ES256', 'EdDSA', 'RS256'],
        requiredClaims: ['sub', 'exp', 'iat'],
        currentDate: new Date(ctx.clock.now()),
        clockTolerance: LEEWAY_SECONDS,
      },
    )
    return payload
  } catch {
    const e = new InvalidToken('the access token is invalid or expired')
    e.headers['www-authenticate'] = 'Bearer error="invalid_token"'
    throw e
  }
}

/** The token of an `Authorization: Bearer` header; never read from the query (TOK-02). */
export function bearerToken(header: string | undefined): string {
  const m = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/.exec(header ?? '')
  if (!m?.[1]) {
    const e = new InvalidToken('an Authorization: Bearer access token is required')
    e.headers['www-authenticate'] = 'Bearer'
    throw e
  }
  return m[1]
}
