import { authChallenge, checkSenderConstraint } from '../../oauth/bearer.js'
import { InvalidToken } from '../../oauth/errors.js'
import { verifyOwnAccessToken } from '../../tokens/verify-own-token.js'
import type { AccountCheck } from '../account-request.js'

/**
 * An access token this server issued for its own audience (a token requested without `resource`,
 * as /userinfo takes), whose session is still active (so a revoked session's tokens are refused
 * at once, not at their expiry) and whose user is present and enabled. A client_credentials token
 * has no user and no session: refused too. A DPoP-bound token needs the `DPoP` scheme and a proof
 * of its key for this request (RFC 9449 7), as at /userinfo.
 */
export const verifyAccessToken: AccountCheck = async (r, ctx) => {
  const scheme = r.presented?.scheme ?? 'Bearer'
  const live = r.token
    ? await verifyOwnAccessToken(ctx, r.token, { audience: ctx.config.issuer, binding: 'any' })
    : undefined
  if (!live) {
    throw authChallenge(ctx, new InvalidToken('the access token is invalid or expired'), scheme)
  }
  if (!live.user || !live.session) {
    throw authChallenge(
      ctx,
      new InvalidToken('the access token is not for a signed-in user'),
      scheme,
    )
  }
  if (r.presented) {
    const path = r.req.url.split('?')[0] ?? ''
    await checkSenderConstraint(ctx, r.req, live, r.presented, ctx.config.issuer + path)
  }
  r.live = live
  r.user = live.user
  r.current = live.session
}
