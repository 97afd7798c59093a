import type { MiddlewareHandler } from 'hono'
import { TesseraVerifyError } from '../errors.js'
import { authenticateRequest, checkScopes } from '../http/authenticate-request.js'
import { challenge, type ChallengeOptions } from '../http/challenge.js'
import { requirementOf, type AuthenticationRequirement } from '../http/check-authentication.js'
import type { TokenVerifier, VerifiedToken } from '../verifier/verified-token.js'

/** The hono environment the middleware provides: `c.get('auth')`. */
export interface AuthEnv<Extra extends object = object> {
  Variables: { auth: VerifiedToken<Extra> }
}

/** `acrValues` and `maxAge`: what the route needs of the sign-in (RFC 9470), else 401
 * `insufficient_user_authentication`. */
export interface HonoAuthOptions extends ChallengeOptions, AuthenticationRequirement {
  /** Scopes every request must carry; otherwise 403. Default none. */
  scopes?: readonly string[]
}

function failure(err: TesseraVerifyError, o: ChallengeOptions): Response {
  const f = challenge(err, o)
  return new Response(f.body, { status: f.status, headers: f.headers })
}

/**
 * Hono middleware: verifies the access token (`Bearer`, or `DPoP` with its proof) and sets
 * `c.var.auth`, or answers 401/403/400/503 per RFC 6750 and RFC 9449.
 *
 * @example
 * ```ts
 * const app = new Hono<AuthEnv>()
 * app.use('/api/*', authenticate(verifier))
 * app.get('/api/me', (c) => c.json({ sub: c.var.auth.claims.sub }))
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function authenticate<Extra extends object = object>(
  verifier: TokenVerifier<Extra>,
  options: HonoAuthOptions = {},
): MiddlewareHandler<AuthEnv<Extra>> {
  const scopes = options.scopes ?? []
  const requirement = requirementOf(options)
  return async (c, next) => {
    const r = await authenticateRequest(
      verifier,
      {
        method: c.req.method,
        url: c.req.url,
        authorization: c.req.header('authorization'),
        dpop: c.req.header('dpop'),
      },
      scopes,
      requirement,
    )
    if (!r.ok) return failure(r.error, options)
    c.set('auth', r.token)
    await next()
  }
}

/**
 * Middleware that answers 403 `insufficient_scope` unless `c.var.auth` carries every scope given.
 * Put it after {@link authenticate}.
 *
 * @example
 * ```ts
 * app.delete('/api/orders/:id', requireScope('orders:write'), handler)
 * ```
 */
export function requireScope(...scopes: string[]): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const token = c.get('auth') as VerifiedToken | undefined
    if (!token) throw new Error('requireScope runs after the authenticate middleware')
    try {
      checkScopes(token, scopes)
    } catch (err) {
      if (err instanceof TesseraVerifyError) return failure(err, {})
      throw err
    }
    await next()
  }
}

export type { VerifiedToken }
