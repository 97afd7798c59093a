import type { FastifyRequest } from 'fastify'
import type { ServerContext } from '../../context.js'
import type { Params } from '../../http/form.js'
import type { ApiRecord, ClientRecord, SessionRecord, UserRecord } from '../../store/types.js'
import type { DpopProof } from '../dpop/dpop-proof.js'
import { userClaims } from '../../users/claims.js'
import { scopeForApi } from './audience.js'
import type { TokenResponse } from './token-response.js'
import { sessionDeadline } from '../../sessions/lifecycle.js'
import { seconds } from '../../lib/clock.js'
import { acrOf } from '../../mfa/second-factor.js'
import { SessionPending } from '../errors.js'

/**
 * `tessera_task`: the task a `pending` session must complete (`setup-mfa`, `verify-email`), in its
 * ID tokens and at /userinfo, so an app's route guard can send the user to it. Absent when there
 * is none.
 */
export const TASK_CLAIM = 'tessera_task'

export function taskClaim(session: SessionRecord): Record<string, string> {
  return session.state === 'pending' && session.task ? { [TASK_CLAIM]: session.task } : {}
}

/** A pending session gets access tokens for the issuer only (userinfo, the account API): no API
 * access token until its task is done. */
export function refuseApiWhilePending(
  ctx: ServerContext,
  session: Pick<SessionRecord, 'state' | 'task'>,
  api: ApiRecord,
): void {
  if (session.state === 'pending' && api.audience !== ctx.config.issuer) {
    throw new SessionPending(session.task ?? 'setup-mfa')
  }
}

export interface GrantRequest {
  ctx: ServerContext
  req: FastifyRequest
  body: Params
  client: ClientRecord
  ip: string
  userAgent: string | null
  /** The request's verified DPoP proof; the access token is bound to its key (RFC 9449 5). */
  dpop: DpopProof | undefined
}

export type GrantHandler = (g: GrantRequest) => Promise<TokenResponse>

/**
 * Tokens for a live session: an access token for the requested audience (or the issuer), the
 * session's current refresh token, and an ID token when the grant includes `openid`.
 */
export async function sessionTokens(
  g: GrantRequest,
  o: {
    session: SessionRecord
    user: UserRecord
    refreshToken: string | undefined
    /** The access token's audience, already checked against the grant. */
    api: ApiRecord
    /** The scope the tokens carry, already checked to be within the grant. */
    scopes: string[]
    nonce: string | null
    grantType: 'authorization_code' | 'refresh_token'
  },
): Promise<TokenResponse> {
  const { ctx, client } = g
  const { session, user } = o
  const { api, scopes } = o
  const scope = scopeForApi(api, scopes)
  const at = await ctx.tokens.accessToken({
    api,
    client,
    user,
    scope,
    sessionId: session.id,
    authTime: session.authTime,
    amr: session.amr,
    acr: acrOf(session.amr),
    ...(g.dpop ? { jkt: g.dpop.jkt } : {}),
  })
  const res: TokenResponse = {
    access_token: at.token,
    token_type: g.dpop ? 'DPoP' : 'Bearer',
    expires_in: at.expiresIn,
    scope,
  }
  if (o.refreshToken !== undefined) {
    res.refresh_token = o.refreshToken
    res.refresh_token_expires_in = Math.max(0, seconds(sessionDeadline(session) - ctx.clock.now()))
  }
  if (session.scope.split(' ').includes('openid')) {
    res.id_token = await ctx.tokens.idToken({
      user,
      client,
      sessionId: session.id,
      authTime: session.authTime,
      amr: session.amr,
      acr: acrOf(session.amr),
      nonce: o.nonce,
      accessToken: at.token,
      claims: { ...userClaims(user, session.scope), ...taskClaim(session) },
    })
  }
  ctx.metrics.tokens.inc({ grant_type: o.grantType })
  return res
}
