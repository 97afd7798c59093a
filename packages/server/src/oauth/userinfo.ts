import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'
import { corsPreflight } from '../http/app.js'
import { userClaims } from '../users/claims.js'
import { verifyOwnAccessToken } from '../tokens/verify-own-token.js'
import { InsufficientScope, InvalidRequest, InvalidToken, type OAuthError } from './errors.js'
import { PATHS } from './paths.js'

function bearerError(err: OAuthError): OAuthError {
  const parts = [`Bearer realm="tessera"`, `error="${err.error}"`]
  if (err.error !== 'invalid_request')
    parts.push(`error_description="${err.message.replace(/"/g, "'")}"`)
  err.headers['www-authenticate'] = parts.join(', ')
  return err
}

/** The bearer token from the Authorization header or, for POST, the form body (RFC 6750 2.1, 2.2);
 * never from the query string (TOK-02). */
function bearerToken(req: FastifyRequest): string {
  const q = req.url.indexOf('?')
  if (q >= 0 && new URLSearchParams(req.url.slice(q + 1)).has('access_token')) {
    throw bearerError(new InvalidRequest('the access token must not be sent in the URL'))
  }
  const h = req.headers.authorization
  const fromBody =
    req.body instanceof Map ? (req.body.get('access_token') as string[] | undefined) : undefined
  if (typeof h === 'string' && fromBody)
    throw bearerError(new InvalidRequest('send the access token once'))
  if (typeof h === 'string') {
    const m = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(h.trim())
    if (!m) throw bearerError(new InvalidToken('the Authorization header is not a Bearer token'))
    return m[1] as string
  }
  if (fromBody?.length === 1 && fromBody[0]) return fromBody[0]
  const e = new InvalidToken('an access token is required')
  e.headers['www-authenticate'] = 'Bearer realm="tessera"'
  throw e
}

/**
 * UserInfo (OIDC Core 5.3): accepts access tokens whose audience is this issuer (the token a
 * client gets without a `resource`), for a live session and user, with the `openid` scope.
 */
export function userinfoRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    reply.header('cache-control', 'no-store')
    const token = bearerToken(req)
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
