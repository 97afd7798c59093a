/**
 * CSRF protection for the sign-in and sign-out forms: a signed double-submit cookie.
 *
 * The browser holds a random, HttpOnly, SameSite=Lax cookie; each form carries
 * `HMAC(key, purpose, cookie value, binding)`, where the binding is the pending request the form
 * belongs to (the login transaction id) or the action (sign-out). Another site can neither read the
 * cookie nor compute the token, and SameSite keeps the cookie off cross-site POSTs anyway. A token
 * copied from one form does not fit another transaction or another browser.
 *
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html#signed-double-submit-cookie-recommended
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'
import { cookies, serializeCookie } from '../http/request-info.js'
import { hmac } from '../lib/crypto.js'
import { matchesAny, purposeKeys } from '../lib/secret-ring.js'
import { secureCookies } from '../sessions/browser-session.js'

export const CSRF_COOKIE_SECURE = '__Host-tessera_csrf'
export const CSRF_COOKIE_PLAIN = 'tessera_csrf'

export type CsrfPurpose =
  | 'login'
  | 'logout'
  | 'admin-sign-in'
  | 'login-otp'
  | 'account-mfa'
  | 'account'
  | 'passkeys'
  | 'upstream-link'

const VALUE = /^[A-Za-z0-9_-]{43}$/

export function csrfCookieName(ctx: ServerContext): string {
  return secureCookies(ctx) ? CSRF_COOKIE_SECURE : CSRF_COOKIE_PLAIN
}

function cookieValue(ctx: ServerContext, req: FastifyRequest): string | undefined {
  const v = cookies(req).get(csrfCookieName(ctx))
  return v !== undefined && VALUE.test(v) ? v : undefined
}

/** The form token for this browser, `purpose` and `binding`; sets the cookie when it is missing. */
export function issueCsrfToken(
  ctx: ServerContext,
  req: FastifyRequest,
  reply: FastifyReply,
  purpose: CsrfPurpose,
  binding: string,
): string {
  let value = cookieValue(ctx, req)
  if (value === undefined) {
    value = ctx.random.bytes(32).toString('base64url')
    reply.header(
      'set-cookie',
      serializeCookie(csrfCookieName(ctx), value, {
        secure: secureCookies(ctx),
        sameSite: 'Lax',
        path: '/',
      }),
    )
  }
  return csrfToken(purposeKeys(ctx.config.secrets, 'csrf').current, value, purpose, binding)
}

function csrfToken(key: Buffer, value: string, purpose: CsrfPurpose, binding: string): string {
  return hmac(key, 'csrf', purpose, value, binding).toString('base64url')
}

/** Whether the form's token matches the request's cookie for `purpose` and `binding` (under any
 * secret of the ring: a form rendered before a secret rotation still posts). */
export function verifyCsrfToken(
  ctx: ServerContext,
  req: FastifyRequest,
  token: string | undefined,
  purpose: CsrfPurpose,
  binding: string,
): boolean {
  const value = cookieValue(ctx, req)
  if (value === undefined || token === undefined) return false
  return matchesAny(purposeKeys(ctx.config.secrets, 'csrf'), token, (k) =>
    csrfToken(k, value, purpose, binding),
  )
}
