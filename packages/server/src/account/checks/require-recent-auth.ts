import type { ServerContext } from '../../context.js'
import { authChallenge } from '../../oauth/bearer.js'
import { InsufficientUserAuthentication } from '../../oauth/errors.js'
import { authenticated, type AccountCheck, type AccountRequest } from '../account-request.js'

/**
 * Ending someone else's session (another device, another app) needs a recent sign-in: the
 * session's `auth_time` at most `account.maxAuthAgeSeconds` ago. Otherwise RFC 9470: 401
 * `insufficient_user_authentication` with `max_age`, and the client signs in again with
 * `max_age` (or `prompt=login`) before retrying. A refresh does not renew `auth_time`; only a
 * sign-in does.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9470#section-3
 */
export const requireRecentAuth: AccountCheck = (r, ctx) => {
  const { current } = authenticated(r)
  const maxAge = ctx.config.account.maxAuthAgeSeconds
  if (ctx.clock.now() - current.authTime <= maxAge * 1000) return
  throw authChallenge(
    ctx,
    new InsufficientUserAuthentication(
      `a sign-in within the last ${maxAge} seconds is required to end other sessions`,
    ),
    r.presented?.scheme ?? 'Bearer',
    { max_age: String(maxAge) },
  )
}

/** As requireRecentAuth, except for the caller's own current session (signing out needs none). */
export const requireRecentAuthUnlessCurrent: AccountCheck = (
  r: AccountRequest,
  ctx: ServerContext,
) => {
  if (r.target?.id === r.current?.id) return
  return requireRecentAuth(r, ctx)
}
