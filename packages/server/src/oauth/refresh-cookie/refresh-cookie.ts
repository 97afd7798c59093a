/**
 * The refresh-token cookie of clients with `refreshTokenDelivery: 'cookie'`: the token endpoint
 * sets the refresh token as an HttpOnly cookie instead of putting it in the JSON, so browser
 * JavaScript (and any XSS payload) never sees it, and reads it back when a refresh request carries
 * no `refresh_token`.
 *
 * | attribute | value | why |
 * |---|---|---|
 * | name | `__Host-tessera_rt_<client id>_<origin tag>` (https), `tessera_rt_...` (http) | `__Host-` forbids `Domain` and pins `Path=/` and `Secure`, so a sibling subdomain (same site, so able to send requests with the cookie) cannot plant one; plain http cannot use the prefix |
 * | value | the refresh token | rotation, the grace window and reuse detection work on it unchanged |
 * | HttpOnly | always | scripts cannot read it |
 * | Secure | when the issuer is https | |
 * | SameSite | Strict | only same-site requests carry it: cross-site pages cannot make the browser send it |
 * | Path | `/` | required by `__Host-`; path scoping is no security boundary (RFC 6265 8.5), integrity against cookie tossing is |
 * | Max-Age | `refresh_token_expires_in` | the session's idle or absolute end, whichever is first |
 *
 * The origin tag (12 characters of the origin's SHA-256) gives each registered web origin of a
 * client its own cookie, as it has its own storage: two apps of one client on two origins do not
 * replace each other's session.
 *
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-httpbis-rfc6265bis#section-4.1.3.2
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../../context.js'
import { serializeCookie } from '../../http/request-info.js'
import { sha256b64u } from '../../lib/crypto.js'
import { secureCookies } from '../../sessions/browser-session.js'
import { InvalidRequest } from '../errors.js'

/** The name of the refresh cookie of `clientId` for the app at `origin`. */
export function refreshCookieName(ctx: ServerContext, clientId: string, origin: string): string {
  const prefix = secureCookies(ctx) ? '__Host-' : ''
  return `${prefix}tessera_rt_${clientId}_${sha256b64u(origin).slice(0, 12)}`
}

function attributes(ctx: ServerContext, maxAgeSeconds: number) {
  return { secure: secureCookies(ctx), sameSite: 'Strict' as const, path: '/', maxAgeSeconds }
}

export function setRefreshCookie(
  ctx: ServerContext,
  reply: FastifyReply,
  name: string,
  refreshToken: string,
  maxAgeSeconds: number,
): void {
  reply.header('set-cookie', serializeCookie(name, refreshToken, attributes(ctx, maxAgeSeconds)))
}

export function clearRefreshCookie(ctx: ServerContext, reply: FastifyReply, name: string): void {
  reply.header('set-cookie', serializeCookie(name, '', attributes(ctx, 0)))
}

/**
 * The value of the cookie `name`, or undefined when the request has none. A cookie sent twice
 * (possible over plain http, where a cookie of another path can shadow it) is refused rather than
 * guessed at.
 */
export function readRefreshCookie(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie
  if (!header) return undefined
  let value: string | undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue
    if (value !== undefined) throw new InvalidRequest('the refresh token cookie was sent twice')
    value = part.slice(eq + 1).trim()
  }
  return value === '' ? undefined : value
}
