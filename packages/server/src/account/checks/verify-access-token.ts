import { bearerError } from '../../oauth/bearer.js'
import { InvalidToken } from '../../oauth/errors.js'
import { verifyOwnAccessToken } from '../../tokens/verify-own-token.js'
import type { AccountCheck } from '../account-request.js'

/**
 * An access token this server issued for its own audience (a token requested without `resource`,
 * as /userinfo takes), whose session is still active (so a revoked session's tokens are refused
 * at once, not at their expiry) and whose user is present and enabled. A client_credentials token
 * has no user and no session: refused too.
 */
export const verifyAccessToken: AccountCheck = async (r, ctx) => {
  const live = r.token
    ? await verifyOwnAccessToken(ctx, r.token, { audience: ctx.config.issuer })
    : undefined
  if (!live) throw bearerError(new InvalidToken('the access token is invalid or expired'))
  if (!live.user || !live.session) {
    throw bearerError(new InvalidToken('the access token is not for a signed-in user'))
  }
  r.live = live
  r.user = live.user
  r.current = live.session
}
