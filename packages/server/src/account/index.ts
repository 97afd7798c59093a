/**
 * The self-service account API: a signed-in user lists and ends their own sessions, with an
 * access token for the issuer itself (requested without `resource`, the token `/userinfo` takes)
 * that carries the `account:sessions` scope.
 *
 * | method, path | checks | answer |
 * |---|---|---|
 * | `GET /account/sessions[?include=ended]` | LIST_CHECKS | 200 `{ sessions: SessionView[] }` |
 * | `DELETE /account/sessions/{id}` | END_ONE_CHECKS | 204 |
 * | `DELETE /account/sessions` | END_OTHERS_CHECKS | 200 `{ ended: string[] }` |
 * | `GET /account/passkeys` | TOKEN_CHECKS | 200 `{ passkeys: PasskeyView[] }` |
 * | `DELETE /account/passkeys/{id}` | TOKEN_CHECKS | 204; 404 when not the caller's |
 *
 * Token failures follow RFC 6750 (401 `invalid_token`, 403 `insufficient_scope`, with
 * `WWW-Authenticate`); a stale sign-in for ending other sessions is RFC 9470's 401
 * `insufficient_user_authentication` with `max_age`; everything else is `{ error,
 * error_description }` JSON (400 `invalid_request`, 404 `not_found`).
 *
 * @example
 * // GET /account/sessions   Authorization: Bearer <access token with account:sessions>
 * // -> 200 {"sessions":[{"id":"Xy..","current":true,"state":"active",
 * //         "client":{"id":"web-app","name":"Web"},"device":{"description":"Chrome 120 on macOS",..},..}]}
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 * @see https://www.rfc-editor.org/rfc/rfc9470#section-3
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'
import { clientIp, userAgent } from '../http/request-info.js'
import { PATHS } from '../oauth/paths.js'
import { passkeyView } from '../passkeys/passkey-view.js'
import { judgeSession } from '../sessions/lifecycle.js'
import { NotFound } from '../oauth/errors.js'
import type { ClientRecord } from '../store/types.js'
import { AccountCors } from './account-cors.js'
import {
  authenticated,
  type AccountCheck,
  type AccountRequest,
  type AuthenticatedRequest,
} from './account-request.js'
import { findOwnSession } from './checks/find-own-session.js'
import { readBearerToken } from './checks/read-bearer-token.js'
import { readListQuery } from './checks/read-list-query.js'
import { requireSessionsScope } from './checks/require-scope.js'
import { requireRecentAuth, requireRecentAuthUnlessCurrent } from './checks/require-recent-auth.js'
import { verifyAccessToken } from './checks/verify-access-token.js'
import { sessionView } from './session-view.js'

/** Every account endpoint starts with these, in this order. */
export const TOKEN_CHECKS: readonly AccountCheck[] = [
  readBearerToken, //      Authorization: Bearer only; never in the URL (TOK-02)
  verifyAccessToken, //    ours, aud = issuer, session active, user enabled (401 invalid_token)
  requireSessionsScope, // account:sessions (403 insufficient_scope)
]

export const LIST_CHECKS: readonly AccountCheck[] = [
  ...TOKEN_CHECKS,
  readListQuery, //        include=ended or nothing (400)
]

export const END_ONE_CHECKS: readonly AccountCheck[] = [
  ...TOKEN_CHECKS,
  findOwnSession, //                  well-formed id (400), the caller's own (404 otherwise)
  requireRecentAuthUnlessCurrent, //  another session needs a recent sign-in (401 RFC 9470)
]

export const END_OTHERS_CHECKS: readonly AccountCheck[] = [
  ...TOKEN_CHECKS,
  requireRecentAuth, //    a recent sign-in (401 RFC 9470)
]

/** How far back `include=ended` looks. */
const RECENT_MS = 30 * 86_400_000
/** Sessions listed at most, newest first. */
const LIST_LIMIT = 100

async function run(
  checks: readonly AccountCheck[],
  req: FastifyRequest,
  ctx: ServerContext,
): Promise<AuthenticatedRequest> {
  const r: AccountRequest = { req }
  for (const check of checks) await check(r, ctx)
  return authenticated(r)
}

export function accountRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const cors = new AccountCors(ctx)
  const route = {
    onRequest: async (req: FastifyRequest, reply: FastifyReply) => {
      reply.header('cache-control', 'no-store')
      await cors.apply(req, reply)
    },
  }
  const one = `${PATHS.accountSessions}/:id`

  app.options(PATHS.accountSessions, (req, reply) => cors.preflight(req, reply, 'GET, DELETE'))
  app.options(one, (req, reply) => cors.preflight(req, reply, 'DELETE'))

  app.get(PATHS.accountSessions, route, async (req, reply) => {
    const r = await run(LIST_CHECKS, req, ctx)
    const now = ctx.clock.now()
    const rows = await ctx.store.listSessions({
      userId: r.user.id,
      // Without include=ended, no end time is late enough: live sessions only.
      liveOrEndedSince: r.includeEnded ? now - RECENT_MS : Number.MAX_SAFE_INTEGER,
      limit: LIST_LIMIT,
    })
    const clients = new Map<string, ClientRecord | undefined>()
    for (const s of rows) {
      if (!clients.has(s.clientId)) clients.set(s.clientId, await ctx.store.getClient(s.clientId))
    }
    const sessions = rows
      .map((s) => sessionView(s, clients.get(s.clientId), now, r.current.id))
      // A session past its limits that the sweep has not stored yet is not live either.
      .filter((v) => r.includeEnded || v.ended_at === null)
    return json(reply, 200, { sessions })
  })

  app.delete(one, route, async (req, reply) => {
    const r = await run(END_ONE_CHECKS, req, ctx)
    const target = r.target
    if (!target) throw new Error('findOwnSession did not run')
    const now = ctx.clock.now()
    // Already over (ended, or past its limits): nothing to do, and nothing is recorded again.
    if (!judgeSession(target, now).live) return reply.code(204).send()
    const isCurrent = target.id === r.current.id
    if (
      !isCurrent &&
      target.browserSessionId &&
      target.browserSessionId !== r.current.browserSessionId
    ) {
      // The other device's sign-on ends first, so it cannot silently start a new session.
      await ctx.store.endBrowserSession(target.browserSessionId, now)
    }
    await ctx.store.endSession(
      target.id,
      isCurrent ? 'ended' : 'revoked',
      isCurrent ? 'sign_out' : 'user',
      now,
      ctx.events.make(isCurrent ? 'sign_out' : 'session_revoked', {
        userId: r.user.id,
        clientId: target.clientId,
        sessionId: target.id,
        ip: clientIp(req, ctx.config.trustProxy),
        userAgent: userAgent(req),
        data: {
          reason: isCurrent ? 'sign_out' : 'user',
          via: 'account_api',
          bySession: r.current.id,
        },
      }),
      now,
      'ended',
    )
    return reply.code(204).send()
  })

  const onePasskey = `${PATHS.accountPasskeys}/:id`
  app.options(PATHS.accountPasskeys, (req, reply) => cors.preflight(req, reply, 'GET'))
  app.options(onePasskey, (req, reply) => cors.preflight(req, reply, 'DELETE'))

  app.get(PATHS.accountPasskeys, route, async (req, reply) => {
    const r = await run(TOKEN_CHECKS, req, ctx)
    const passkeys = (await ctx.store.listPasskeys(r.user.id)).map(passkeyView)
    return json(reply, 200, { passkeys })
  })

  app.delete(onePasskey, route, async (req, reply) => {
    const r = await run(TOKEN_CHECKS, req, ctx)
    const id = (req.params as { id?: unknown }).id
    // Another user's passkey and one that does not exist get the same 404.
    const removed =
      typeof id === 'string' &&
      (await ctx.store.deletePasskey(
        r.user.id,
        id,
        ctx.events.make('passkey_removed', {
          userId: r.user.id,
          sessionId: r.current.id,
          clientId: r.current.clientId,
          ip: clientIp(req, ctx.config.trustProxy),
          userAgent: userAgent(req),
          data: { passkeyId: id, via: 'account_api' },
        }),
      ))
    if (!removed) throw new NotFound('no such passkey')
    return reply.code(204).send()
  })

  app.delete(PATHS.accountSessions, route, async (req, reply) => {
    const r = await run(END_OTHERS_CHECKS, req, ctx)
    const now = ctx.clock.now()
    const ip = clientIp(req, ctx.config.trustProxy)
    const ua = userAgent(req)
    await ctx.store.endBrowserSessions(
      { userId: r.user.id, exceptId: r.current.browserSessionId },
      now,
    )
    const ended = await ctx.store.endSessions(
      { userId: r.user.id, exceptId: r.current.id },
      'revoked',
      'user',
      now,
      (s) =>
        ctx.events.make('session_revoked', {
          userId: s.userId,
          clientId: s.clientId,
          sessionId: s.id,
          ip,
          userAgent: ua,
          data: { reason: 'user', via: 'account_api', bySession: r.current.id },
        }),
    )
    return json(reply, 200, { ended })
  })
}

function json(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify(body))
}
