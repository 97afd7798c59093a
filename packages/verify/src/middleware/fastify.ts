import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify'
import { TesseraVerifyError } from '../errors.js'
import { authenticateRequest, checkScopes } from '../http/authenticate-request.js'
import { challenge, type ChallengeOptions } from '../http/challenge.js'
import { requirementOf, type AuthenticationRequirement } from '../http/check-authentication.js'
import type { TokenVerifier, VerifiedToken } from '../verifier/verified-token.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified access token, set by `@tessera/verify`'s `authenticate` hook. */
    auth?: VerifiedToken
  }
}

/** `acrValues` and `maxAge`: what the route needs of the sign-in (RFC 9470), else 401
 * `insufficient_user_authentication`. */
export interface FastifyAuthOptions extends ChallengeOptions, AuthenticationRequirement {
  /** Scopes every request must carry; otherwise 403. Default none. */
  scopes?: readonly string[]
}

type PreHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>

function send(reply: FastifyReply, err: TesseraVerifyError, o: ChallengeOptions): FastifyReply {
  const f = challenge(err, o)
  return reply.code(f.status).headers(f.headers).send(f.body)
}

/**
 * A fastify `preHandler` hook: verifies the access token (`Bearer`, or `DPoP` with its proof) and
 * sets `request.auth`, or answers 401/403/400/503 per RFC 6750 and RFC 9449.
 *
 * @example
 * ```ts
 * app.get('/orders', { preHandler: authenticate(verifier, { scopes: ['orders'] }) }, (req) => {
 *   return { sub: req.auth?.claims.sub }
 * })
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function authenticate(
  verifier: TokenVerifier,
  options: FastifyAuthOptions = {},
): PreHandler {
  const scopes = options.scopes ?? []
  const requirement = requirementOf(options)
  return async (request, reply) => {
    const r = await authenticateRequest(
      verifier,
      {
        method: request.method,
        // fastify's protocol and host: behind a proxy, set its `trustProxy` or the verifier's
        // `dpop.origin`, so the URL is the one the client used.
        url: `${request.protocol}://${request.host}${request.url}`,
        authorization: request.headers.authorization,
        dpop: request.raw.headersDistinct.dpop,
      },
      scopes,
      requirement,
    )
    if (!r.ok) return send(reply, r.error, options)
    request.auth = r.token
  }
}

/**
 * A `preHandler` hook that answers 403 `insufficient_scope` unless `request.auth` carries every
 * scope given. Put it after {@link authenticate}.
 *
 * @example
 * ```ts
 * app.delete('/orders/:id', { preHandler: requireScope('orders:write') }, handler)
 * ```
 */
export function requireScope(...scopes: string[]): PreHandler {
  return (request, reply) => {
    const token = request.auth
    if (!token) {
      return Promise.reject(new Error('requireScope runs after the authenticate hook'))
    }
    try {
      checkScopes(token, scopes)
    } catch (err) {
      if (err instanceof TesseraVerifyError) return Promise.resolve(send(reply, err, {}))
      throw err
    }
    return Promise.resolve()
  }
}

export interface TesseraVerifyPluginOptions extends FastifyAuthOptions {
  verifier: TokenVerifier
}

/**
 * A fastify plugin that adds the {@link authenticate} hook to every route of the scope it is
 * registered in (it is not encapsulated, like plugins wrapped with `fastify-plugin`).
 *
 * @example
 * ```ts
 * await app.register(async (api) => {
 *   await api.register(tesseraVerify, { verifier })
 *   api.get('/me', (req) => req.auth?.claims)
 * })
 * ```
 */
export const tesseraVerify: FastifyPluginCallback<TesseraVerifyPluginOptions> = Object.assign(
  (
    app: Parameters<FastifyPluginCallback<TesseraVerifyPluginOptions>>[0],
    opts: TesseraVerifyPluginOptions,
    done: (err?: Error) => void,
  ) => {
    if (!app.hasRequestDecorator('auth')) app.decorateRequest('auth', undefined)
    app.addHook('preHandler', authenticate(opts.verifier, opts))
    done()
  },
  {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: '@tessera/verify',
  },
)

export type { VerifiedToken }
