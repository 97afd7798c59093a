import type { FastifyInstance } from 'fastify'
import type { ServerContext } from '../context.js'
import { corsPreflight } from '../http/app.js'
import { param, requireParam } from '../http/form.js'
import { userAgent } from '../http/request-info.js'
import { REFRESH_TOKEN_PREFIX } from '../tokens/refresh-token.js'
import { authenticateClient } from './client-auth.js'
import { UnsupportedTokenType } from './errors.js'
import { verifyOwnJwt } from '../tokens/verify-own-token.js'
import { PATHS } from './paths.js'
import { formBody, noQueryCredentials } from './token/index.js'

/**
 * Token revocation (RFC 7009). Revoking a refresh token ends its session, which also makes every
 * access token of the session inactive at introspection and userinfo (SES-08). Unknown, malformed
 * or foreign tokens get 200 and change nothing (SES-10). Access tokens are self-contained JWTs and
 * cannot be revoked one by one: they get `unsupported_token_type` (RFC 7009 2.2.1); revoke the
 * refresh token to end the session instead.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2
 */
export function revokeRoutes(app: FastifyInstance, ctx: ServerContext): void {
  corsPreflight(app, PATHS.revoke, 'POST')
  app.post(PATHS.revoke, async (req, reply) => {
    reply.header('cache-control', 'no-store')
    noQueryCredentials(req)
    const body = formBody(req)
    const token = requireParam(body, 'token', 16_384)
    param(body, 'token_type_hint', 64)
    const { client, ip } = await authenticateClient(ctx, req, body)

    if (token.startsWith(REFRESH_TOKEN_PREFIX)) {
      const parsed = ctx.refreshTokens.parse(token)
      const session = parsed ? await ctx.store.getSession(parsed.sessionId) : undefined
      if (
        parsed &&
        session &&
        ctx.refreshTokens.verify(parsed, session.salt) &&
        session.clientId === client.id
      ) {
        // Any generation of the family revokes it: the holder of an old token is the same client.
        const now = ctx.clock.now()
        const event = ctx.events.make('token_revoked', {
          userId: session.userId,
          clientId: client.id,
          sessionId: session.id,
          ip,
          userAgent: userAgent(req),
          data: { tokenType: 'refresh_token' },
        })
        await ctx.store.endSession(session.id, 'revoked', 'token_revocation', now, event)
      }
      return reply.code(200).send()
    }
    // Only a JWT we really issued is answered as unrevocable; anything else is an unknown token.
    if (await verifyOwnJwt(ctx, token, 'at+jwt', undefined, true)) {
      throw new UnsupportedTokenType(
        'access tokens cannot be revoked one by one; revoke the refresh token to end the session',
      )
    }
    return reply.code(200).send()
  })
}
