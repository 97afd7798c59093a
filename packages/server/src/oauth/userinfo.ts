import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'
import { corsPreflight } from '../http/app.js'
import { userClaims } from '../users/claims.js'
import { verifyOwnAccessToken } from '../tokens/verify-own-token.js'
import { bearerError, bearerToken } from './bearer.js'
import { InsufficientScope, InvalidToken } from './errors.js'
import { PATHS } from './paths.js'

/**
 * UserInfo (OIDC Core 5.3): accepts access tokens whose audience is this issuer (the token a
 * client gets without a `resource`), for a live session and user, with the `openid` scope.
 */
export function userinfoRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    reply.header('cache-control', 'no-store')
    const token = bearerToken(req, { allowBody: true })
    const live = await verifyOwnAccessToken(ctx, token, { audience: ctx.config.issuer })
    if (!live || !live.user)
      throw bearerError(new InvalidToken('the access token is invalid or expired'))
    const scope = live.claims.scope ?? ''
    if (!scope.split(' ').includes('openid')) {
      throw bearerError(new InsufficientScope('the access token lacks the openid scope'))
    }
    return reply
      .header('content-type', 'application/json; charset=utf-8')
      .send(JSON.stringify({ sub: live.user.id, ...userClaims(live.user, scope) }))
  }
  corsPreflight(app, PATHS.userinfo, 'GET, POST')
  app.get(PATHS.userinfo, handler)
  app.post(PATHS.userinfo, handler)
}
