import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ServerContext } from '../../context.js'
import { corsPreflight } from '../../http/app.js'
import { param, type Params } from '../../http/form.js'
import { userAgent } from '../../http/request-info.js'
import type { GrantType } from '../../store/types.js'
import { authenticateClient } from '../client-auth.js'
import { tokenRequestProof } from '../dpop/dpop-request.js'
import {
  InvalidGrant,
  InvalidRequest,
  OAuthError,
  UnauthorizedClient,
  UnsupportedGrantType,
} from '../errors.js'
import { PATHS } from '../paths.js'
import { credentialedOrigins, usesRefreshCookie } from '../refresh-cookie/credentialed-origins.js'
import {
  checkCookieRequest,
  COOKIE_REQUEST_HEADER,
  deliverRefreshCookie,
  withCookieToken,
} from '../refresh-cookie/cookie-request.js'
import { authorizationCodeGrant } from './authorization-code.js'
import { clientCredentialsGrant } from './client-credentials.js'
import type { GrantHandler } from './grant.js'
import { refreshTokenGrant } from './refresh-token.js'
import { sendTokens } from './token-response.js'

/** The grants this server supports. Anything else (password, implicit, device) is refused. */
const GRANTS: Record<GrantType, GrantHandler> = {
  authorization_code: authorizationCodeGrant,
  refresh_token: refreshTokenGrant,
  client_credentials: clientCredentialsGrant,
}

/** Reads the form body; anything else is invalid_request. */
export function formBody(req: FastifyRequest): Params {
  if (!(req.body instanceof Map)) {
    throw new InvalidRequest('the request body must be application/x-www-form-urlencoded')
  }
  return req.body as Params
}

/** Rejects credentials in the query string (OAuth 2.1 3.2, TOK-02). */
export function noQueryCredentials(req: FastifyRequest): void {
  const q = req.url.indexOf('?')
  if (q >= 0) {
    const sp = new URLSearchParams(req.url.slice(q + 1))
    for (const k of [
      'code',
      'refresh_token',
      'client_secret',
      'code_verifier',
      'token',
      'access_token',
    ]) {
      if (sp.has(k)) throw new InvalidRequest(`${k} must not be sent in the URL`)
    }
  }
}

/**
 * The token endpoint (RFC 6749 3.2). Checks, in order:
 *
 * | check                         | error                    |
 * |-------------------------------|--------------------------|
 * | form body, no query secrets   | invalid_request          |
 * | grant_type supported          | unsupported_grant_type   |
 * | IP (and confidential client) not over the failure threshold | temporarily_unavailable (429) |
 * | client authenticated          | invalid_client (401)     |
 * | client may use the grant      | unauthorized_client      |
 * | cookie delivery: COOKIE_CHECKS (Origin, header, no refresh_token in the body), then the cookie | invalid_request / invalid_grant |
 * | DPoP proof, when sent or the client requires one (src/oauth/dpop) | invalid_dpop_proof / use_dpop_nonce |
 * | the grant's own checks        | invalid_grant / invalid_scope / invalid_target |
 *
 * For a client with `refreshTokenDelivery: 'cookie'` the refresh token is read from and written
 * to its HttpOnly cookie (src/oauth/refresh-cookie/) and never appears in the JSON.
 */
export function tokenRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const origins = credentialedOrigins(ctx)
  corsPreflight(app, PATHS.token, 'POST', {
    credentialed: (origin) => origins.has(origin),
    credentialedHeaders: [COOKIE_REQUEST_HEADER],
  })
  app.post(PATHS.token, async (req, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
    if (ctx.config.dpop.requireNonce) reply.header('dpop-nonce', ctx.dpopNonces.current())
    noQueryCredentials(req)
    const body = formBody(req)
    const grantType = param(body, 'grant_type', 100)
    if (grantType === undefined) throw new InvalidRequest('missing required parameter grant_type')
    const handler = Object.hasOwn(GRANTS, grantType) ? GRANTS[grantType as GrantType] : undefined
    if (!handler)
      throw new UnsupportedGrantType(`grant_type ${grantType.slice(0, 40)} is not supported`)

    // Authenticates the client and holds it to its failure counters (client-auth.ts: DOS-01).
    const { client, ip, throttleKeys } = await authenticateClient(ctx, req, body)
    if (!client.grantTypes.includes(grantType as GrantType)) {
      throw new UnauthorizedClient(`this client may not use ${grantType}`)
    }
    try {
      const dpop = await tokenRequestProof(ctx, req, client)
      if (usesRefreshCookie(client)) {
        const refresh = grantType === 'refresh_token'
        const bodyToken = { name: 'refresh_token', value: param(body, 'refresh_token', 512) }
        const c = checkCookieRequest(ctx, req, client, refresh ? 'refresh' : 'other', bodyToken)
        const grantBody = refresh ? withCookieToken(req, body, c) : body
        const tokens = await handler({
          ctx,
          req,
          body: grantBody,
          client,
          ip,
          userAgent: userAgent(req),
          dpop,
        })
        return sendTokens(reply, deliverRefreshCookie(ctx, reply, c, tokens))
      }
      const tokens = await handler({ ctx, req, body, client, ip, userAgent: userAgent(req), dpop })
      return sendTokens(reply, tokens)
    } catch (err) {
      if (err instanceof OAuthError) {
        ctx.metrics.grantErrors.inc({ grant_type: grantType, error: err.error })
        if (err instanceof InvalidGrant) await ctx.throttle.fail(throttleKeys)
      }
      throw err
    }
  })
}
