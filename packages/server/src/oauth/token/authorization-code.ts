import { sha256b64u, safeEqual } from '../../lib/crypto.js'
import { randomId } from '../../lib/random.js'
import { param, requireParam } from '../../http/form.js'
import type { SessionRecord, SessionTask } from '../../store/types.js'
import { checkCodeBinding, sessionJkt } from '../dpop/token-binding.js'
import { InvalidGrant, InvalidRequest } from '../errors.js'
import { parseScope, requestedResources, resolveAudience } from './audience.js'
import { graceWindow } from './grace-window.js'
import { hasSecondFactor } from '../../mfa/second-factor.js'
import { refuseApiWhilePending, sessionTokens, type GrantHandler } from './grant.js'
import { emailVerified, verifiedEmailWanted } from '../../accounts/verified-email.js'

const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/

/**
 * `grant_type=authorization_code` (RFC 6749 4.1.3, OAuth 2.1 4.1.3) with PKCE (RFC 7636 4.6).
 * Order matters: the client, the verifier and the redirect URI are checked before the code is
 * consumed, so a wrong verifier burns nothing (PKCE-04) and only a genuine replay of a redeemed
 * code revokes what the first redemption issued (CODE-02, CODE-03).
 */
export const authorizationCodeGrant: GrantHandler = async (g) => {
  const { ctx, body, client } = g
  const code = requireParam(body, 'code', 512)
  const verifier = param(body, 'code_verifier', 256)
  const redirectUri = param(body, 'redirect_uri')
  const requestedScope = parseScope(param(body, 'scope', 2048))
  if (requestedScope !== undefined) {
    throw new InvalidRequest('scope is not allowed with authorization_code')
  }
  const resources = requestedResources(body)

  const codeHash = sha256b64u(code)
  const rec = await ctx.store.getCode(codeHash)
  if (!rec) throw new InvalidGrant('the authorization code is invalid', 'unknown code')
  if (rec.clientId !== client.id) {
    throw new InvalidGrant('the authorization code is invalid', 'code of another client')
  }
  const now = ctx.clock.now()
  if (verifier === undefined) throw new InvalidGrant('code_verifier is required')
  if (!VERIFIER.test(verifier)) {
    throw new InvalidGrant('code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]')
  }
  if (!rec.codeChallenge || rec.codeChallengeMethod !== 'S256') {
    throw new InvalidGrant('the authorization code was not issued with PKCE')
  }
  if (!safeEqual(sha256b64u(verifier), rec.codeChallenge)) {
    throw new InvalidGrant('code_verifier does not match the code_challenge')
  }
  if (redirectUri !== undefined && redirectUri !== rec.redirectUri) {
    throw new InvalidGrant('redirect_uri does not match the authorization request')
  }
  checkCodeBinding(rec, g.dpop)

  // A replay is punished whenever it comes: RFC 6749 4.1.2 sets no time limit on it.
  if (rec.consumedAt !== null) return replay(g, rec.sessionId)
  if (now >= rec.expiresAt) throw new InvalidGrant('the authorization code has expired')

  const user = await ctx.store.getUser(rec.userId)
  if (!user || user.disabled)
    throw new InvalidGrant('the user is not allowed to sign in', 'user gone or disabled')

  // The request wanted a second factor and the sign-in has none: the user has no authenticator
  // yet (else /authorize would have asked for a code), so the session waits for the enrolment.
  // Else a client that needs a verified address waits for the user's verification link.
  // (setup-mfa comes first: its completion hands the session on to verify-email if need be.)
  const task: SessionTask | null =
    rec.mfaRequired === true && !hasSecondFactor(rec.amr)
      ? 'setup-mfa'
      : verifiedEmailWanted(ctx, client) && !emailVerified(user)
        ? 'verify-email'
        : null
  const pending = task !== null
  const dpopJkt = sessionJkt(client, g.dpop)
  const grace = graceWindow(client, { dpopJkt })
  const session: SessionRecord = {
    id: randomId(ctx.random),
    userId: user.id,
    clientId: client.id,
    browserSessionId: rec.browserSessionId,
    state: pending ? 'pending' : 'active',
    task,
    reason: null,
    endedAt: null,
    scope: rec.scope,
    resources: rec.resources,
    authTime: rec.authTime,
    amr: rec.amr,
    createdAt: now,
    lastActiveAt: now,
    expiresAt: now + client.sessionAbsoluteSeconds * 1000,
    idleSeconds: client.sessionIdleSeconds,
    generation: 0,
    rotatedAt: now,
    graceUses: 0,
    graceSeconds: grace.seconds,
    graceMaxUses: grace.maxUses,
    salt: randomId(ctx.random),
    userAgent: g.userAgent ?? rec.userAgent,
    ip: g.ip,
    dpopJkt,
  }
  // Validate the audience before anything is written, so a bad resource changes nothing.
  const api = await resolveAudience(ctx, resources, rec.resources)
  refuseApiWhilePending(ctx, session, api)
  const redemption = await ctx.store.redeemCode(codeHash, now, session)
  if (!redemption.ok) {
    if (redemption.reason === 'consumed') return replay(g, redemption.sessionId)
    if (redemption.reason === 'signed_out') {
      throw new InvalidGrant(
        'the sign-in this authorization code came from has ended',
        'browser session signed out before the code was redeemed',
      )
    }
    throw new InvalidGrant('the authorization code is invalid')
  }
  const refreshToken = client.grantTypes.includes('refresh_token')
    ? ctx.refreshTokens.encode(session.id, 0, session.salt)
    : undefined
  return sessionTokens(g, {
    session,
    user,
    refreshToken,
    api,
    scopes: rec.scope.split(' ').filter((s) => s !== ''),
    nonce: rec.nonce,
    grantType: 'authorization_code',
  })
}

/** A redeemed code presented again: revoke what the first redemption issued (RFC 6749 4.1.2). */
async function replay(g: Parameters<GrantHandler>[0], sessionId: string | null): Promise<never> {
  const { ctx, client } = g
  if (sessionId) {
    const event = ctx.events.make('code_reuse', {
      clientId: client.id,
      sessionId,
      ip: g.ip,
      userAgent: g.userAgent,
      data: { reason: 'authorization code presented again' },
    })
    const s = await ctx.store.getSession(sessionId)
    if (s) event.userId = s.userId
    await ctx.store.endSession(sessionId, 'revoked', 'code_reuse', ctx.clock.now(), event)
  }
  throw new InvalidGrant('the authorization code has already been used', 'code replay')
}
