/**
 * The admin console's sign-in: an admin key, entered once, starts a console session kept in the
 * store behind an HttpOnly, SameSite=Strict cookie (`__Host-tessera_admin` over https). The cookie
 * holds 32 random bytes; the store keeps their sha256. Idle and absolute timeouts
 * (`admin.consoleIdleSeconds`, `admin.consoleAbsoluteSeconds`) are decided on every request from
 * the server's clock, and the key is re-checked each time, so revoking it ends its console
 * sessions. Every form of a signed-in page carries a CSRF token bound to the console session.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../../context.js'
import { cookies, serializeCookie } from '../../http/request-info.js'
import { hmac, safeEqual, sha256b64u } from '../../lib/crypto.js'
import { purposeKeys } from '../../lib/secret-ring.js'
import { secureCookies } from '../../sessions/browser-session.js'
import type { AdminSessionRecord, SecurityEventRecord } from '../../store/types.js'
import type { AdminAuthenticator, AdminPrincipal } from '../auth/admin-auth.js'

export const ADMIN_COOKIE_SECURE = '__Host-tessera_admin'
export const ADMIN_COOKIE_PLAIN = 'tessera_admin'

const VALUE = /^[A-Za-z0-9_-]{43}$/

export function adminCookieName(ctx: ServerContext): string {
  return secureCookies(ctx) ? ADMIN_COOKIE_SECURE : ADMIN_COOKIE_PLAIN
}

/** A live console sign-in. */
export interface ConsoleSignIn {
  record: AdminSessionRecord
  principal: AdminPrincipal
  /** The CSRF token every form of this sign-in carries (under the current secret). */
  csrf: string
  /** The tokens accepted: `csrf`, and the same under each older secret of the ring, so a page
   * rendered before a secret rotation still posts. */
  acceptedCsrf: readonly string[]
}

/** HMACs of the console session id, one per secret of the ring, current first: another site can
 * neither read nor compute them. */
function csrfFor(ctx: ServerContext, sessionId: string): string[] {
  return purposeKeys(ctx.config.secrets, 'admin-console-csrf').all.map((k) =>
    hmac(k, 'admin-console', sessionId).toString('base64url'),
  )
}

export function csrfMatches(s: ConsoleSignIn, token: string | undefined): boolean {
  if (token === undefined) return false
  let ok = false
  for (const t of s.acceptedCsrf) ok = safeEqual(token, t) || ok
  return ok
}

/** The request's live console sign-in, touched; an expired one is ended in the store. */
export async function readConsoleSession(
  ctx: ServerContext,
  auth: AdminAuthenticator,
  req: FastifyRequest,
): Promise<ConsoleSignIn | undefined> {
  const value = cookies(req).get(adminCookieName(ctx))
  if (value === undefined || !VALUE.test(value)) return undefined
  const id = sha256b64u(value)
  const record = await ctx.store.getAdminSession(id)
  if (!record || record.endedAt !== null) return undefined
  const now = ctx.clock.now()
  const idle = ctx.config.admin.consoleIdleSeconds * 1000
  const principal = await auth.byCredentialId(record.keyId)
  if (now >= record.expiresAt || now - record.lastActiveAt >= idle || !principal) {
    await ctx.store.endAdminSession(id, now)
    return undefined
  }
  await ctx.store.touchAdminSession(id, now)
  const accepted = csrfFor(ctx, id)
  return {
    record: { ...record, lastActiveAt: now },
    principal,
    csrf: accepted[0] as string,
    acceptedCsrf: accepted,
  }
}

/** Starts a console session for `principal` and sets its cookie; ends the one presented, if any. */
export async function startConsoleSession(
  ctx: ServerContext,
  req: FastifyRequest,
  reply: FastifyReply,
  principal: AdminPrincipal,
  event: SecurityEventRecord,
): Promise<void> {
  const now = ctx.clock.now()
  const previous = cookies(req).get(adminCookieName(ctx))
  if (previous !== undefined && VALUE.test(previous)) {
    await ctx.store.endAdminSession(sha256b64u(previous), now)
  }
  const value = ctx.random.bytes(32).toString('base64url')
  const absolute = ctx.config.admin.consoleAbsoluteSeconds
  await ctx.store.createAdminSession(
    {
      id: sha256b64u(value),
      keyId: principal.credentialId,
      createdAt: now,
      lastActiveAt: now,
      expiresAt: now + absolute * 1000,
      endedAt: null,
    },
    event,
  )
  reply.header(
    'set-cookie',
    serializeCookie(adminCookieName(ctx), value, {
      secure: secureCookies(ctx),
      sameSite: 'Strict',
      path: '/',
      maxAgeSeconds: absolute,
    }),
  )
}

/** Ends the console session (recording `event`) and clears its cookie. */
export async function endConsoleSession(
  ctx: ServerContext,
  reply: FastifyReply,
  s: ConsoleSignIn,
  event: SecurityEventRecord,
): Promise<void> {
  await ctx.store.endAdminSession(s.record.id, ctx.clock.now(), event)
  reply.header(
    'set-cookie',
    serializeCookie(adminCookieName(ctx), '', {
      secure: secureCookies(ctx),
      sameSite: 'Strict',
      path: '/',
      maxAgeSeconds: 0,
    }),
  )
}
