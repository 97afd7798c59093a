import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'
import { corsPreflight } from '../http/app.js'
import { param, requireParam } from '../http/form.js'
import { userAgent } from '../http/request-info.js'
import type { ClientRecord } from '../store/types.js'
import { REFRESH_TOKEN_PREFIX } from '../tokens/refresh-token.js'
import { authenticateClient } from './client-auth.js'
import { UnauthorizedClient, UnsupportedTokenType } from './errors.js'
import { verifyOwnJwt } from '../tokens/verify-own-token.js'
import { PATHS } from './paths.js'
import { formBody, noQueryCredentials } from './token/index.js'
import { credentialedOrigins, usesRefreshCookie } from './refresh-cookie/credentialed-origins.js'
import { checkCookieRequest, COOKIE_REQUEST_HEADER } from './refresh-cookie/cookie-request.js'
import { clearRefreshCookie, readRefreshCookie } from './refresh-cookie/refresh-cookie.js'

/**
 * Token revocation (RFC 7009). Revoking a refresh token ends its session, which also makes every
 * access token of the session inactive at introspection and userinfo (SES-08). Unknown or
 * malformed tokens get 200 and change nothing (SES-10); so does a token of another client sent by
 * a public client, while a confidential client gets `unauthorized_client` for it (RFC 7009 2.1). Access tokens are self-contained JWTs and
 * cannot be revoked one by one: they get `unsupported_token_type` (RFC 7009 2.2.1); revoke the
 * refresh token to end the session instead.
 *
 * A client with `refreshTokenDelivery: 'cookie'` holds no token to send: it omits `token`, passes
 * the cookie checks (Origin, header; src/oauth/refresh-cookie/cookie-request.ts), and the token of
 * its refresh cookie is revoked; the answer clears the cookie, whatever it held.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2
 */
export function revokeRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const origins = credentialedOrigins(ctx)
  corsPreflight(app, PATHS.revoke, 'POST', {
    credentialed: (origin) => origins.has(origin),
    credentialedHeaders: [COOKIE_REQUEST_HEADER],
  })
  app.post(PATHS.revoke, async (req, reply) => {
    reply.header('cache-control', 'no-store')
    noQueryCredentials(req)
    const body = formBody(req)
    const bodyToken = param(body, 'token', 16_384)
    param(body, 'token_type_hint', 64)
    const { client, ip } = await authenticateClient(ctx, req, body)

    if (usesRefreshCookie(client)) {
      const c = checkCookieRequest(ctx, req, client, 'refresh', { name: 'token', value: bodyToken })
      const token = readRefreshCookie(req, c.cookieName)
      if (token?.startsWith(REFRESH_TOKEN_PREFIX)) {
        await revokeRefreshToken(ctx, req, client, ip, token)
      }
      clearRefreshCookie(ctx, reply, c.cookieName)
      return reply.code(200).send()
    }
    const token = bodyToken ?? requireParam(body, 'token')
    if (token.startsWith(REFRESH_TOKEN_PREFIX)) {
      const outcome = await revokeRefreshToken(ctx, req, client, ip, token)
      if (outcome === 'foreign') refuseForeign(client)
      return reply.code(200).send()
    }
    // Only a JWT we really issued is answered as unrevocable; anything else is an unknown token.
    const claims = await verifyOwnJwt(ctx, token, 'at+jwt', undefined, true)
    if (claims) {
      if (claims.client_id !== client.id) refuseForeign(client)
      throw new UnsupportedTokenType(
        'access tokens cannot be revoked one by one; revoke the refresh token to end the session',
      )
    }
    return reply.code(200).send()
  })
}

/**
 * RFC 7009 2.1: a token issued to another client is refused. Only an authenticated (confidential)
 * client learns so: a public client's `client_id` proves nothing, and telling anyone which client
 * a token belongs to would be an oracle, so a public client keeps the answer of an unknown token
 * (200, nothing revoked).
 */
function refuseForeign(client: ClientRecord): void {
  if (client.tokenEndpointAuthMethod === 'none') return
  throw new UnauthorizedClient('the token was not issued to this client', 'foreign token')
}

/**
 * Ends the session of a refresh token of `client` (SES-08). Anything else changes nothing: an
 * unknown, malformed or tampered token (SES-10) and a token of another client ('foreign').
 */
async function revokeRefreshToken(
  ctx: ServerContext,
  req: FastifyRequest,
  client: ClientRecord,
  ip: string,
  token: string,
): Promise<'revoked' | 'unknown' | 'foreign'> {
  const parsed = ctx.refreshTokens.parse(token)
  const session = parsed ? await ctx.store.getSession(parsed.sessionId) : undefined
  if (!parsed || !session || !ctx.refreshTokens.verify(parsed, session.salt)) return 'unknown'
  if (session.clientId !== client.id) return 'foreign'
  // Any generation of the family revokes it: the holder of an old token is the same client.
  const event = ctx.events.make('token_revoked', {
    userId: session.userId,
    clientId: client.id,
    sessionId: session.id,
    ip,
    userAgent: userAgent(req),
    data: { tokenType: 'refresh_token' },
  })
  const now = ctx.clock.now()
  // Revoking a token whose session has ended already changes nothing and records nothing.
  await ctx.store.endSession(session.id, 'revoked', 'token_revocation', now, event, now, 'ended')
  return 'revoked'
}
