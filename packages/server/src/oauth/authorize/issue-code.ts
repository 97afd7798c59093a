import type { FastifyRequest } from 'fastify'
import type { ServerContext } from '../../context.js'
import { clientIp, userAgent } from '../../http/request-info.js'
import { sha256b64u } from '../../lib/crypto.js'
import type { ActiveBrowserSession } from '../../sessions/browser-session.js'
import type { TrustedRequest } from './authorization-request.js'

/** Bytes of CSPRNG output in a code: 256 bits, 43 base64url characters (CODE-08). */
export const CODE_BYTES = 32

/**
 * Creates an authorization code for a validated request and a live browser session. Only the
 * code's sha256 is stored; the code itself exists in the redirect alone. The token endpoint turns
 * it into a client session with `store.redeemCode`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2
 */
export async function issueCode(
  ctx: ServerContext,
  req: FastifyRequest,
  r: TrustedRequest,
  session: ActiveBrowserSession,
  /** The request wants a second factor (mfa-policy.ts). */
  mfaRequired = false,
): Promise<string> {
  const code = ctx.random.bytes(CODE_BYTES).toString('base64url')
  const now = ctx.clock.now()
  await ctx.store.createCode({
    codeHash: sha256b64u(code),
    clientId: r.client.id,
    userId: session.user.id,
    browserSessionId: session.record.id,
    redirectUri: r.redirectUri,
    scope: r.scope,
    resources: r.resources,
    nonce: r.nonce,
    codeChallenge: r.codeChallenge,
    codeChallengeMethod: 'S256',
    authTime: session.record.authTime,
    amr: session.record.amr,
    createdAt: now,
    expiresAt: now + ctx.config.codeTtlSeconds * 1000,
    consumedAt: null,
    sessionId: null,
    userAgent: userAgent(req),
    ip: clientIp(req, ctx.config.trustProxy),
    dpopJkt: r.dpopJkt,
    ...(mfaRequired ? { mfaRequired: true } : {}),
  })
  return code
}
