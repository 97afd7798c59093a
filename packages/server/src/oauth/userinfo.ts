import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'
import { corsPreflight } from '../http/app.js'
import { userClaims } from '../users/claims.js'
import { taskClaim } from './token/grant.js'
import { verifyOwnAccessToken } from '../tokens/verify-own-token.js'
import { authChallenge, checkSenderConstraint, presentedToken } from './bearer.js'
import { InsufficientScope, InvalidToken } from './errors.js'
import { PATHS } from './paths.js'

/**
 * UserInfo (OIDC Core 5.3): accepts access tokens whose audience is this issuer (the token a
 * client gets without a `resource`), for a live session and user, with the `openid` scope.
 *
 * A DPoP-bound token (`cnf.jkt`) is accepted only with the `DPoP` scheme and a proof of its key
 * for this request (`htm`, `htu`, `ath`; RFC 9449 7.1); presented as a bearer token it is
 * refused (7.2), and so is an unbound token presented with the `DPoP` scheme.
 */
export function userinfoRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    reply.header('cache-control', 'no-store')
    if (ctx.config.dpop.requireNonce) reply.header('dpop-nonce', ctx.dpopNonces.current())
    const presented = presentedToken(ctx, req, { allowBody: true })
    const live = await verifyOwnAccessToken(ctx, presented.token, {
      audience: ctx.config.issuer,
      binding: 'any',
    })
    if (!live || !live.user) {
      throw authChallenge(
        ctx,
        new InvalidToken('the access token is invalid or expired'),
        presented.scheme,
      )
    }
    await checkSenderConstraint(ctx, req, live, presented, ctx.config.issuer + PATHS.userinfo)
    const scope = live.claims.scope ?? ''
    if (!scope.split(' ').includes('openid')) {
      throw authChallenge(
        ctx,
        new InsufficientScope('the access token lacks the openid scope'),
        presented.scheme,
      )
    }
    return reply.header('content-type', 'application/json; charset=utf-8').send(
      JSON.stringify({
        sub: live.user.id,
        ...userClaims(live.user, scope),
        ...(live.session ? taskClaim(live.session) : {}),
      }),
    )
  }
  corsPreflight(app, PATHS.userinfo, 'GET, POST')
  app.get(PATHS.userinfo, handler)
  app.post(PATHS.userinfo, handler)
}
