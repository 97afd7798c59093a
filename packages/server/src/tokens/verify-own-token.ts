import { decodeProtectedHeader, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose'
import type { ServerContext } from '../context.js'
import { boundJkt } from '../oauth/dpop/dpop-request.js'
import { judgeSession } from '../sessions/lifecycle.js'
import type { SessionRecord, UserRecord } from '../store/types.js'
import { isCanonicalJws } from './canonical-jws.js'

export interface LiveAccessToken {
  claims: JWTPayload & { client_id?: string; scope?: string; sid?: string }
  session: SessionRecord | undefined
  user: UserRecord | undefined
}

/** Longest JWT we look at; anything larger is rejected before any crypto (JWT-15). */
const MAX_JWT = 8192

/**
 * Verifies an access token this server issued and checks that what stands behind it is still
 * live: the session (when it has one) active and within its lifetimes, the user present and
 * enabled. Returns undefined for anything else; never throws for bad input.
 *
 * `binding` says how the token was presented. `bearer` (the default) refuses a DPoP-bound token
 * (one with `cnf.jkt`), which must never be accepted as a bearer token (RFC 9449 7.2); `any`
 * leaves the binding to the caller, which then checks the proof (see `src/oauth/userinfo.ts`) or
 * only reports on the token (introspection).
 */
export async function verifyOwnAccessToken(
  ctx: ServerContext,
  token: string,
  opts: { audience?: string; binding?: 'bearer' | 'any' } = {},
): Promise<LiveAccessToken | undefined> {
  const claims = await verifyOwnJwt(ctx, token, 'at+jwt', opts.audience)
  if (!claims) return undefined
  if ((opts.binding ?? 'bearer') === 'bearer' && boundJkt(claims) !== undefined) return undefined
  if (typeof claims.sub !== 'string' || typeof claims.client_id !== 'string') return undefined
  const now = ctx.clock.now()
  let session: SessionRecord | undefined
  let user: UserRecord | undefined
  if (typeof claims.sid === 'string') {
    session = await ctx.store.getSession(claims.sid)
    if (!session || !judgeSession(session, now).live) return undefined
    if (session.userId !== claims.sub) return undefined
  }
  if (claims.sub.startsWith('usr_')) {
    user = await ctx.store.getUser(claims.sub)
    if (!user || user.disabled) return undefined
    if (session && user.passwordChangedAt > session.createdAt) return undefined
  } else if (claims.sub !== claims.client_id) {
    return undefined
  }
  return { claims: claims, session, user }
}

/**
 * Verifies a JWT signed by one of our keys with the expected `typ` (JWT-11). `allowExpired` is for
 * id_token_hint, which may be presented after its expiry.
 */
export async function verifyOwnJwt(
  ctx: ServerContext,
  token: string,
  typ: 'at+jwt' | 'JWT',
  audience?: string,
  allowExpired = false,
): Promise<JWTPayload | undefined> {
  if (token.length > MAX_JWT || token.split('.').length !== 3) return undefined
  let kid: string | undefined
  try {
    kid = decodeProtectedHeader(token).kid
  } catch {
    return undefined
  }
  if (typeof kid !== 'string') return undefined
  const key = await ctx.keys.verificationKey(kid)
  if (!key) return undefined
  // JWT-19: another spelling of a token we issued is not that token.
  if (!isCanonicalJws(token, key.record.alg, key.publicJwk, { lowS: true })) return undefined
  try {
    const { payload } = await jwtVerify(token, key.publicKey, {
      issuer: ctx.config.issuer,
      typ,
      algorithms: [key.record.alg],
      ...(audience !== undefined ? { audience } : {}),
      currentDate: new Date(ctx.clock.now()),
      // A hint may be long expired; its signature, issuer and type still have to hold.
      clockTolerance: allowExpired ? 10 * 365 * 86_400 : 0,
    })
    return payload
  } catch (err) {
    if (err instanceof joseErrors.JOSEError) return undefined
    throw err
  }
}
