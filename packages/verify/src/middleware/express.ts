import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { TesseraVerifyError } from '../errors.js'
import { authenticateRequest, checkScopes } from '../http/authenticate-request.js'
import { challenge, type ChallengeOptions } from '../http/challenge.js'
import { requirementOf, type AuthenticationRequirement } from '../http/check-authentication.js'
import type { TokenVerifier, VerifiedToken } from '../verifier/verified-token.js'

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The verified access token, set by `@tessera/verify`'s `authenticate` middleware. */
      auth?: VerifiedToken
    }
  }
}

/** `acrValues` and `maxAge`: what the route needs of the sign-in (RFC 9470), else 401
 * `insufficient_user_authentication`. */
export interface ExpressAuthOptions extends ChallengeOptions, AuthenticationRequirement {
  /** Scopes every request must carry; otherwise 403. Default none. */
  scopes?: readonly string[]
}

function send(res: Response, err: TesseraVerifyError, o: ChallengeOptions): void {
  const f = challenge(err, o)
  res.status(f.status).set(f.headers).send(f.body)
}

/**
 * Express middleware: verifies the access token (`Bearer`, or `DPoP` with its proof) and sets
 * `req.auth`, or answers 401/403/400/503 per RFC 6750 and RFC 9449.
 *
 * @example
 * ```ts
 * app.use('/api', authenticate(verifier))
 * app.get('/api/me', (req, res) => res.json({ sub: req.auth?.claims.sub }))
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function authenticate(
  verifier: TokenVerifier,
  options: ExpressAuthOptions = {},
): RequestHandler {
  const scopes = options.scopes ?? []
  const requirement = requirementOf(options)
  return (req: Request, res: Response, next: NextFunction) => {
    const request = {
      method: req.method,
      // `req.protocol` and the Host header: behind a proxy, set express's `trust proxy` or the
      // verifier's `dpop.origin`, so the URL is the one the client used.
      url: `${req.protocol}://${req.get('host') ?? 'localhost'}${req.originalUrl}`,
      authorization: req.headers.authorization,
      dpop: req.headersDistinct.dpop,
    }
    authenticateRequest(verifier, request, scopes, requirement).then((r) => {
      if (!r.ok) return send(res, r.error, options)
      req.auth = r.token
      next()
    }, next)
  }
}

/**
 * Middleware that answers 403 `insufficient_scope` unless `req.auth` carries every scope given.
 * Put it after {@link authenticate}.
 *
 * @example
 * ```ts
 * app.delete('/api/orders/:id', requireScope('orders:write'), handler)
 * ```
 */
export function requireScope(...scopes: string[]): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!req.auth) return next(new Error('requireScope runs after the authenticate middleware'))
    try {
      checkScopes(req.auth, scopes)
    } catch (err) {
      if (err instanceof TesseraVerifyError) return send(res, err, {})
      return next(err)
    }
    next()
  }
}

export type { VerifiedToken }
