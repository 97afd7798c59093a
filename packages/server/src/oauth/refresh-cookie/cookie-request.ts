import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../../context.js'
import type { Params } from '../../http/form.js'
import type { ClientRecord } from '../../store/types.js'
import { InvalidGrant, InvalidRequest } from '../errors.js'
import type { TokenResponse } from '../token/token-response.js'
import { readRefreshCookie, refreshCookieName, setRefreshCookie } from './refresh-cookie.js'

/**
 * The header every request of a cookie-delivery client must carry. A page cannot add a custom
 * header to a cross-origin request without a CORS preflight, which only the registered origins
 * pass: a second line of defence behind the Origin check.
 */
export const COOKIE_REQUEST_HEADER = 'tessera-refresh-cookie'

/** What a cookie request turned out to be, once its checks passed. */
export interface CookieRequest {
  /** The registered web origin the request came from. */
  origin: string
  /** The name of that origin's refresh cookie. */
  cookieName: string
}

interface CookieCheck {
  name: string
  /** Which requests it applies to. */
  applies: 'all' | 'refresh'
  run(c: CheckInput): void
}

interface CheckInput {
  req: FastifyRequest
  client: ClientRecord
  /** The token (refresh_token) or revocation (token) parameter, if the body had one. */
  bodyToken: { name: string; value: string | undefined }
}

/**
 * What a request of a cookie-delivery client must pass before anything else happens (CSRF
 * defence: a sibling subdomain is same-site, so its pages can make the browser send the cookie).
 * Each failure is a 400 that changes nothing: no code consumed, no rotation, no cookie.
 */
export const COOKIE_CHECKS: readonly CookieCheck[] = [
  {
    name: 'Origin is a registered web origin of the client',
    applies: 'all',
    run({ req, client }) {
      const origin = req.headers.origin
      if (typeof origin !== 'string' || origin === '' || origin === 'null') {
        throw new InvalidRequest('the Origin header is required with cookie delivery')
      }
      if (!(client.webOrigins ?? []).includes(origin)) {
        throw new InvalidRequest(
          `origin ${origin.slice(0, 100)} is not a web origin of this client`,
        )
      }
    },
  },
  {
    name: `${COOKIE_REQUEST_HEADER}: 1`,
    applies: 'all',
    run({ req }) {
      if (req.headers[COOKIE_REQUEST_HEADER] !== '1') {
        throw new InvalidRequest(
          `the ${COOKIE_REQUEST_HEADER}: 1 header is required with cookie delivery`,
        )
      }
    },
  },
  {
    name: 'no token in the body',
    applies: 'refresh',
    run({ bodyToken }) {
      if (bodyToken.value !== undefined) {
        throw new InvalidRequest(
          `${bodyToken.name} must not be sent: this client's refresh token is in a cookie`,
        )
      }
    },
  },
]

/**
 * Runs the cookie checks for a request of a cookie-delivery client. `refresh` requests (the
 * refresh grant and revocation) use the cookie; others (the code exchange) only set it.
 */
export function checkCookieRequest(
  ctx: ServerContext,
  req: FastifyRequest,
  client: ClientRecord,
  kind: 'refresh' | 'other',
  bodyToken: CheckInput['bodyToken'],
): CookieRequest {
  for (const check of COOKIE_CHECKS) {
    if (check.applies === 'all' || kind === 'refresh') check.run({ req, client, bodyToken })
  }
  const origin = req.headers.origin as string
  return { origin, cookieName: refreshCookieName(ctx, client.id, origin) }
}

/**
 * The refresh grant's body with the cookie's token as `refresh_token`. No cookie is
 * `invalid_grant`: the browser holds no session for this app (signed out, cookies cleared, or the
 * app is not same-site with the issuer).
 */
export function withCookieToken(req: FastifyRequest, body: Params, c: CookieRequest): Params {
  const token = readRefreshCookie(req, c.cookieName)
  if (token === undefined) {
    throw new InvalidGrant('there is no refresh token cookie', 'no refresh cookie for this origin')
  }
  const out: Params = new Map(body)
  out.set('refresh_token', [token])
  return out
}

/** Moves the refresh token from the JSON into the cookie. */
export function deliverRefreshCookie(
  ctx: ServerContext,
  reply: FastifyReply,
  c: CookieRequest,
  tokens: TokenResponse,
): TokenResponse {
  const { refresh_token: refreshToken, ...rest } = tokens
  if (refreshToken !== undefined) {
    setRefreshCookie(ctx, reply, c.cookieName, refreshToken, rest.refresh_token_expires_in ?? 0)
  }
  return rest
}
