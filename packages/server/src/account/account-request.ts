import type { FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'
import type { SessionRecord, UserRecord } from '../store/types.js'
import type { PresentedToken } from '../oauth/bearer.js'
import type { LiveAccessToken } from '../tokens/verify-own-token.js'

/** What the checks of one account API request establish, in the order the tables run them. */
export interface AccountRequest {
  readonly req: FastifyRequest
  /** The access token and its scheme (never logged, never echoed). */
  presented?: PresentedToken
  token?: string
  live?: LiveAccessToken
  /** The user the token is for. */
  user?: UserRecord
  /** The session the token belongs to (its `sid`): the caller's current session. */
  current?: SessionRecord
  /** DELETE /account/sessions/{id}: the caller's own session named in the path. */
  target?: SessionRecord
  /** GET /account/sessions: also list sessions that ended recently. */
  includeEnded?: boolean
}

/** The parts every check after the token checks can rely on. */
export type AuthenticatedRequest = AccountRequest & {
  token: string
  live: LiveAccessToken
  user: UserRecord
  current: SessionRecord
}

/** One check of an account API endpoint: fills in the request, or throws an OAuthError. */
export type AccountCheck = (r: AccountRequest, ctx: ServerContext) => void | Promise<void>

export function isAuthenticated(r: AccountRequest): r is AuthenticatedRequest {
  return (
    r.token !== undefined && r.live !== undefined && r.user !== undefined && r.current !== undefined
  )
}

/** Narrows after the token checks have run; a check table that forgets them fails loudly. */
export function authenticated(r: AccountRequest): AuthenticatedRequest {
  if (!isAuthenticated(r)) throw new Error('account check ran before the token checks')
  return r
}
