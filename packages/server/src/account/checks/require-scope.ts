import { authChallenge } from '../../oauth/bearer.js'
import { InsufficientScope } from '../../oauth/errors.js'
import { ACCOUNT_SESSIONS_SCOPE } from '../../oauth/token/audience.js'
import type { AccountCheck } from '../account-request.js'

/** The token carries `account:sessions`: an app asks for it to offer session management. */
export const requireSessionsScope: AccountCheck = (r, ctx) => {
  const scopes = (r.live?.claims.scope ?? '').split(' ')
  if (!scopes.includes(ACCOUNT_SESSIONS_SCOPE)) {
    throw authChallenge(
      ctx,
      new InsufficientScope(`the access token lacks the ${ACCOUNT_SESSIONS_SCOPE} scope`),
      r.presented?.scheme ?? 'Bearer',
      { scope: `"${ACCOUNT_SESSIONS_SCOPE}"` },
    )
  }
}
