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
import { deriveKey, hmac, safeEqual } from '../lib/crypto.js'
import { secureCookies } from '../sessions/browser-session.js'

export const CSRF_COOKIE_SECURE = '__Host-tessera_csrf'
export const CSRF_COOKIE_PLAIN = 'tessera_csrf'

export type CsrfPurpose = 'login' | 'logout' | 'admin-sign-in' | 'passkeys'

const VALUE = /^[A-Za-z0-9_-]{43}$/
const keys = new WeakMap<Buffer, Buffer>()

function csrfKey(ctx: ServerContext): Buffer {
  let k = keys.get(ctx.config.secret)
  if (!k) {
    k = deriveKey(ctx.config.secret, 'csrf')
    keys.set(ctx.config.secret, k)
  }
  return k
}

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
  return csrfToken(ctx, value, purpose, binding)
}

function csrfToken(
  ctx: ServerContext,
  value: string,
  purpose: CsrfPurpose,
  binding: string,
): string {
  return hmac(csrfKey(ctx), 'csrf', purpose, value, binding).toString('base64url')
}

/** Whether the form's token matches the request's cookie for `purpose` and `binding`. */
export function verifyCsrfToken(
  ctx: ServerContext,
  req: FastifyRequest,
  token: string | undefined,
  purpose: CsrfPurpose,
  binding: string,
): boolean {
  const value = cookieValue(ctx, req)
  if (value === undefined || token === undefined) return false
  return safeEqual(token, csrfToken(ctx, value, purpose, binding))
}
