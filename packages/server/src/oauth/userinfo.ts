import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'
import { corsPreflight } from '../http/app.js'
import { userClaims } from '../users/claims.js'
import { verifyOwnAccessToken } from '../tokens/verify-own-token.js'
import { boundJkt, dpopHeaderValues } from './dpop/dpop-request.js'
import { verifyDpopProof } from './dpop/dpop-proof.js'
import { InsufficientScope, InvalidRequest, InvalidToken, OAuthError } from './errors.js'
import { PATHS } from './paths.js'

type Scheme = 'Bearer' | 'DPoP'

/** An access token as the request presented it. */
interface PresentedToken {
  scheme: Scheme
  token: string
}

/**
 * Sets the RFC 6750 3 / RFC 9449 7.1 challenge of a refusal: in the scheme the token was
 * presented with (a DPoP challenge also lists the accepted proof algorithms).
 */
function challenge(ctx: ServerContext, err: OAuthError, scheme: Scheme): OAuthError {
  const parts = [`${scheme} realm="tessera"`, `error="${err.error}"`]
  if (err.error !== 'invalid_request')
    parts.push(`error_description="${err.message.replace(/"/g, "'")}"`)
  if (scheme === 'DPoP') parts.push(`algs="${ctx.config.dpop.algorithms.join(' ')}"`)
  err.headers['www-authenticate'] = parts.join(', ')
  return err
}

const TOKEN68 = /^(Bearer|DPoP) ([A-Za-z0-9\-._~+/]+=*)$/i

/** The access token from the Authorization header (`Bearer` or `DPoP`) or, for POST, the form
 * body (RFC 6750 2.1, 2.2; RFC 9449 7.1); never from the query string (TOK-02). */
function presentedToken(ctx: ServerContext, req: FastifyRequest): PresentedToken {
  const q = req.url.indexOf('?')
  if (q >= 0 && new URLSearchParams(req.url.slice(q + 1)).has('access_token')) {
    throw challenge(
      ctx,
      new InvalidRequest('the access token must not be sent in the URL'),
      'Bearer',
    )
  }
  const h = req.headers.authorization
  const fromBody =
    req.body instanceof Map ? (req.body.get('access_token') as string[] | undefined) : undefined
  if (typeof h === 'string' && fromBody)
    throw challenge(ctx, new InvalidRequest('send the access token once'), 'Bearer')
  if (typeof h === 'string') {
    const m = TOKEN68.exec(h.trim())
    if (!m) {
      throw challenge(
        ctx,
        new InvalidToken('the Authorization header is not a Bearer or DPoP token'),
        'Bearer',
      )
    }
    const scheme: Scheme = (m[1] as string).toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer'
    return { scheme, token: m[2] as string }
  }
  if (fromBody?.length === 1 && fromBody[0]) return { scheme: 'Bearer', token: fromBody[0] }
  const e = new InvalidToken('an access token is required')
  // Both schemes are offered (RFC 9449 7.1).
  e.headers['www-authenticate'] =
    `Bearer realm="tessera", DPoP realm="tessera", algs="${ctx.config.dpop.algorithms.join(' ')}"`
  throw e
}

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
    const { scheme, token } = presentedToken(ctx, req)
    // The challenge's scheme: the one the token was sent with, or the one a bound token needs.
    let answer = scheme
    try {
      const live = await verifyOwnAccessToken(ctx, token, {
        audience: ctx.config.issuer,
        binding: 'any',
      })
      if (!live || !live.user) throw new InvalidToken('the access token is invalid or expired')
      const jkt = boundJkt(live.claims)
      if (jkt !== undefined && scheme === 'Bearer') {
        answer = 'DPoP'
        throw new InvalidToken('the access token is DPoP-bound: send it with the DPoP scheme')
      }
      if (jkt === undefined && scheme === 'DPoP') {
        throw new InvalidToken('the access token is not DPoP-bound: send it with the Bearer scheme')
      }
      if (jkt !== undefined) {
        await verifyDpopProof(ctx, {
          values: dpopHeaderValues(req),
          method: req.method,
          url: ctx.config.issuer + PATHS.userinfo,
          accessToken: token,
          boundJkt: jkt,
          status: 401,
        })
      }
      const scope = live.claims.scope ?? ''
      if (!scope.split(' ').includes('openid')) {
        throw new InsufficientScope('the access token lacks the openid scope')
      }
      return reply
        .header('content-type', 'application/json; charset=utf-8')
        .send(JSON.stringify({ sub: live.user.id, ...userClaims(live.user, scope) }))
    } catch (err) {
      throw err instanceof OAuthError ? challenge(ctx, err, answer) : err
    }
  }
  corsPreflight(app, PATHS.userinfo, 'GET, POST')
  app.get(PATHS.userinfo, handler)
  app.post(PATHS.userinfo, handler)
}
