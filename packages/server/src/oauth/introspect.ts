import type { FastifyInstance } from 'fastify'
import type { ServerContext } from '../context.js'
import { param, requireParam } from '../http/form.js'
import { judgeSession, sessionDeadline } from '../sessions/lifecycle.js'
import { seconds } from '../lib/clock.js'
import type { ClientRecord } from '../store/types.js'
import { REFRESH_TOKEN_PREFIX } from '../tokens/refresh-token.js'
import { verifyOwnAccessToken, verifyOwnJwt } from '../tokens/verify-own-token.js'
import { authenticateClient } from './client-auth.js'
import { boundJkt } from './dpop/dpop-request.js'
import { InvalidClient } from './errors.js'
import { PATHS } from './paths.js'
import { formBody, noQueryCredentials } from './token/index.js'

const INACTIVE = JSON.stringify({ active: false })

/**
 * Token introspection (RFC 7662) for confidential clients: a token's own client, and resource
 * servers for the access tokens of their APIs (mayIntrospect). An expired, revoked, rotated-away,
 * unknown or someone else's token is `{"active":false}` and nothing else (SES-11, SES-12).
 * Unauthenticated callers get 401 (SES-12); guesses count against the caller's throttle so a
 * client cannot scan for tokens.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2
 */
export function introspectRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post(PATHS.introspect, async (req, reply) => {
    reply
      .header('cache-control', 'no-store')
      .header('content-type', 'application/json; charset=utf-8')
    noQueryCredentials(req)
    const body = formBody(req)
    const { client, ip } = await authenticateClient(ctx, req, body)
    if (client.tokenEndpointAuthMethod === 'none') {
      throw new InvalidClient('introspection requires client authentication')
    }
    const token = requireParam(body, 'token', 16_384)
    param(body, 'token_type_hint', 64)
    // Guessing (tokens that were never ours) counts against the caller's IP; genuine tokens that
    // have expired or been revoked do not, so a busy resource server is never locked out.
    const scanKeys = [
      {
        key: `introspect-ip:${ip}`,
        rule: ctx.config.throttle.invalidGrantPerIp,
      },
    ]
    await ctx.throttle.check(scanKeys)
    const { result, guess } = await introspect(ctx, token)
    if (!result) {
      if (guess) await ctx.throttle.fail(scanKeys)
      return reply.send(INACTIVE)
    }
    // RFC 7662 2.1, 4: a caller that may not see the token learns nothing, not even that it is
    // ours and live; the answer is byte for byte that of an unknown token.
    if (!mayIntrospect(client, result)) return reply.send(INACTIVE)
    return reply.send(JSON.stringify(result))
  })
}

/**
 * Who may see an active token (SES-12): a refresh token only its own client; an access token its
 * client, or a resource server of its audience (a confidential client whose `resourceServerFor`
 * lists it). An access token for the issuer itself (`/userinfo`, the account API) has no
 * resource server but this server, so only its client sees it.
 */
export function mayIntrospect(
  caller: Pick<ClientRecord, 'id' | 'resourceServerFor'>,
  result: Record<string, unknown>,
): boolean {
  if (result.client_id === caller.id) return true
  if (result.token_type === 'refresh_token') return false
  const audiences = Array.isArray(result.aud) ? result.aud : [result.aud]
  const served = caller.resourceServerFor ?? []
  return audiences.some((a) => typeof a === 'string' && served.includes(a))
}

export interface Introspection {
  result?: Record<string, unknown>
  /** The token was never ours (malformed, unknown, bad MAC or signature). */
  guess: boolean
}

/** What the server knows about `token`, whoever asks; the endpoint then applies mayIntrospect. */
export async function introspect(ctx: ServerContext, token: string): Promise<Introspection> {
  const r = await introspectOwn(ctx, token)
  if (r) return { result: r, guess: false }
  const ours = token.startsWith(REFRESH_TOKEN_PREFIX)
    ? await genuineRefreshToken(ctx, token)
    : (await verifyOwnJwt(ctx, token, 'at+jwt', undefined, true)) !== undefined
  return { guess: !ours }
}

async function genuineRefreshToken(ctx: ServerContext, token: string): Promise<boolean> {
  const parsed = ctx.refreshTokens.parse(token)
  if (!parsed) return false
  const s = await ctx.store.getSession(parsed.sessionId)
  return s !== undefined && ctx.refreshTokens.verify(parsed, s.salt)
}

async function introspectOwn(
  ctx: ServerContext,
  token: string,
): Promise<Record<string, unknown> | undefined> {
  const now = ctx.clock.now()
  if (token.startsWith(REFRESH_TOKEN_PREFIX)) {
    const parsed = ctx.refreshTokens.parse(token)
    if (!parsed) return undefined
    const s = await ctx.store.getSession(parsed.sessionId)
    if (!s || !ctx.refreshTokens.verify(parsed, s.salt) || !judgeSession(s, now).live)
      return undefined
    // Only the current token is live; the previous one is merely tolerated during the grace window.
    if (parsed.generation !== s.generation) return undefined
    const user = await ctx.store.getUser(s.userId)
    if (!user || user.disabled || user.passwordChangedAt > s.createdAt) return undefined
    return {
      active: true,
      token_type: 'refresh_token',
      client_id: s.clientId,
      sub: s.userId,
      scope: s.scope,
      sid: s.id,
      iss: ctx.config.issuer,
      iat: seconds(s.rotatedAt),
      exp: seconds(sessionDeadline(s)),
      auth_time: seconds(s.authTime),
      ...(s.dpopJkt ? { cnf: { jkt: s.dpopJkt } } : {}),
    }
  }
  const live = await verifyOwnAccessToken(ctx, token, { binding: 'any' })
  if (!live) return undefined
  // RFC 9449 6.2: a bound token is reported with its key's thumbprint (the `cnf` claim) as DPoP.
  const type = boundJkt(live.claims) !== undefined ? 'DPoP' : 'Bearer'
  return { active: true, token_type: type, ...live.claims }
}
