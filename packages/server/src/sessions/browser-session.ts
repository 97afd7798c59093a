/**
 * The browser's single sign-on session at the server: an HttpOnly cookie holding 32 random bytes,
 * of which the store keeps only the sha256 (the record id). Idle and absolute timeouts are decided
 * here, from the server's clock, on every read (SES-15).
 *
 * @example
 * const current = await readBrowserSession(ctx, req) // undefined: sign in again
 * const started = await startBrowserSession(ctx, req, reply, user) // after a password check
 *
 * @see https://openid.net/specs/openid-connect-session-1_0.html
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'
import { cookies, serializeCookie } from '../http/request-info.js'
import { sha256b64u } from '../lib/crypto.js'
import type { BrowserSessionRecord, UserRecord } from '../store/types.js'

/** Cookie name over https: the `__Host-` prefix pins it to this host, Path=/ and Secure (SES-03). */
export const SSO_COOKIE_SECURE = '__Host-tessera_sso'
/** Cookie name over plain http (development, tests): `__Host-` requires Secure, so no prefix. */
export const SSO_COOKIE_PLAIN = 'tessera_sso'

/** Whether cookies of this server are Secure: exactly when the issuer is https. */
export function secureCookies(ctx: ServerContext): boolean {
  return ctx.config.issuer.startsWith('https:')
}

export function ssoCookieName(ctx: ServerContext): string {
  return secureCookies(ctx) ? SSO_COOKIE_SECURE : SSO_COOKIE_PLAIN
}

/** A browser session that is live now, with its user. */
export interface ActiveBrowserSession {
  record: BrowserSessionRecord
  user: UserRecord
}

const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/

/** The store id of the session the request's cookie names, whether or not it is still live. */
export function browserSessionIdFromCookie(
  ctx: ServerContext,
  req: FastifyRequest,
): string | undefined {
  const value = cookies(req).get(ssoCookieName(ctx))
  if (value === undefined || !COOKIE_VALUE.test(value)) return undefined
  return sha256b64u(value)
}

/** Why a stored browser session is not live at `now`, or undefined when it is. */
export function browserSessionProblem(
  ctx: ServerContext,
  s: BrowserSessionRecord,
  now: number,
): 'ended' | 'absolute_lifetime' | 'idle_timeout' | undefined {
  if (s.endedAt !== null) return 'ended'
  if (now >= s.expiresAt) return 'absolute_lifetime'
  if (now - s.lastActiveAt >= ctx.config.browserSession.idleSeconds * 1000) return 'idle_timeout'
  return undefined
}

/**
 * The live browser session of the request, touched (lastActiveAt = now), or undefined. A session
 * past its idle or absolute timeout, or whose user is gone or disabled, is ended in the store.
 */
export async function readBrowserSession(
  ctx: ServerContext,
  req: FastifyRequest,
): Promise<ActiveBrowserSession | undefined> {
  const id = browserSessionIdFromCookie(ctx, req)
  if (id === undefined) return undefined
  const record = await ctx.store.getBrowserSession(id)
  if (!record) return undefined
  const now = ctx.clock.now()
  const problem = browserSessionProblem(ctx, record, now)
  if (problem === 'ended') return undefined
  if (problem !== undefined) {
    await ctx.store.endBrowserSession(id, now)
    return undefined
  }
  const user = await ctx.store.getUser(record.userId)
  if (!user || user.disabled) {
    await ctx.store.endBrowserSession(id, now)
    return undefined
  }
  await ctx.store.touchBrowserSession(id, now)
  return { record: { ...record, lastActiveAt: now }, user }
}

/**
 * Starts a new browser session for `user` after a successful authentication and sets its cookie.
 * Always a new id: the session the request's cookie named, if any, is ended first (SES-02).
 */
export async function startBrowserSession(
  ctx: ServerContext,
  req: FastifyRequest,
  reply: FastifyReply,
  user: UserRecord,
  amr: string[],
): Promise<ActiveBrowserSession> {
  const now = ctx.clock.now()
  const previousId = browserSessionIdFromCookie(ctx, req)
  const previous =
    previousId === undefined ? undefined : await ctx.store.getBrowserSession(previousId)
  if (previous) await ctx.store.endBrowserSession(previous.id, now)
  const value = ctx.random.bytes(32).toString('base64url')
  const absolute = ctx.config.browserSession.absoluteSeconds
  const record: BrowserSessionRecord = {
    id: sha256b64u(value),
    userId: user.id,
    authTime: now,
    amr,
    createdAt: now,
    lastActiveAt: now,
    expiresAt: now + absolute * 1000,
    endedAt: null,
  }
  await ctx.store.createBrowserSession(record)
  // The same person signing in again in the same browser: the client sessions of the earlier sign-on
  // follow, so signing out of this browser still ends all of them. Another user's do not.
  if (previous && previous.userId === user.id)
    await ctx.store.relinkSessions(previous.id, record.id)
  reply.header(
    'set-cookie',
    serializeCookie(ssoCookieName(ctx), value, {
      secure: secureCookies(ctx),
      sameSite: 'Lax',
      path: '/',
      maxAgeSeconds: absolute,
    }),
  )
  return { record, user }
}

/** Tells the browser to drop the SSO cookie. */
export function clearBrowserSessionCookie(ctx: ServerContext, reply: FastifyReply): void {
  reply.header(
    'set-cookie',
    serializeCookie(ssoCookieName(ctx), '', {
      secure: secureCookies(ctx),
      sameSite: 'Lax',
      path: '/',
      maxAgeSeconds: 0,
    }),
  )
}
