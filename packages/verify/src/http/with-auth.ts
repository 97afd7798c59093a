import type { TokenVerifier, VerifiedToken } from '../verifier/verified-token.js'
import { authenticateRequest } from './authenticate-request.js'
import { challenge, type ChallengeOptions } from './challenge.js'
import { requirementOf, type AuthenticationRequirement } from './check-authentication.js'

/** `acrValues` and `maxAge`: what the route needs of the sign-in (RFC 9470), else 401
 * `insufficient_user_authentication`. */
export interface WithAuthOptions extends ChallengeOptions, AuthenticationRequirement {
  /** Scopes the token must carry; otherwise 403 `insufficient_scope`. Default none. */
  scopes?: readonly string[]
}

/**
 * Wraps a fetch-style handler (`(Request) => Response`: Bun, Deno, Cloudflare Workers, Next.js
 * route handlers, `@hono/node-server`) so it runs only for requests with a valid access token,
 * which it receives as its second argument: a bearer token, or a DPoP-bound token with its proof
 * (RFC 9449 7.1; `request.url` is the URL the proof's `htu` must match). Failures are answered
 * per RFC 6750 and RFC 9449.
 *
 * @example
 * ```ts
 * const handler = withAuth(verifier, (req, auth) => Response.json({ sub: auth.claims.sub }), {
 *   scopes: ['read'],
 * })
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 */
export function withAuth<Extra extends object = object>(
  verifier: TokenVerifier<Extra>,
  handler: (request: Request, auth: VerifiedToken<Extra>) => Response | Promise<Response>,
  options: WithAuthOptions = {},
): (request: Request) => Promise<Response> {
  const scopes = options.scopes ?? []
  const requirement = requirementOf(options)
  return async (request) => {
    const r = await authenticateRequest(
      verifier,
      {
        method: request.method,
        url: request.url,
        authorization: request.headers.get('authorization') ?? undefined,
        dpop: request.headers.get('dpop'),
      },
      scopes,
      requirement,
    )
    if (!r.ok) {
      const f = challenge(r.error, options)
      return new Response(f.body, { status: f.status, headers: f.headers })
    }
    return handler(request, r.token)
  }
}
