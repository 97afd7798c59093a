import { bearerError } from '../../oauth/bearer.js'
import { InsufficientScope } from '../../oauth/errors.js'
import { ACCOUNT_SESSIONS_SCOPE } from '../../oauth/token/audience.js'
import type { AccountCheck } from '../account-request.js'

/** The token carries `account:sessions`: an app asks for it to offer session management. */
export const requireSessionsScope: AccountCheck = (r) => {
  const scopes = (r.live?.claims.scope ?? '').split(' ')
  if (!scopes.includes(ACCOUNT_SESSIONS_SCOPE)) {
    throw bearerError(
      new InsufficientScope(`the access token lacks the ${ACCOUNT_SESSIONS_SCOPE} scope`),
      { scope: `"${ACCOUNT_SESSIONS_SCOPE}"` },
    )
  }
}
