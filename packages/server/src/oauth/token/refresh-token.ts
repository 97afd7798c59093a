import { param, requireParam } from '../../http/form.js'
import { judgeSession } from '../../sessions/lifecycle.js'
import type { ApiRecord, SessionRecord, UserRecord } from '../../store/types.js'
import type { ParsedRefreshToken } from '../../tokens/refresh-token.js'
import { checkRefreshBinding } from '../dpop/token-binding.js'
import { InvalidGrant, TemporarilyUnavailable } from '../errors.js'
import { narrowScope, parseScope, requestedResources, resolveAudience } from './audience.js'
import { graceWindow } from './grace-window.js'
import {
  refuseApiWhilePending,
  sessionTokens,
  type GrantHandler,
  type GrantRequest,
} from './grant.js'
import type { TokenResponse } from './token-response.js'

/** Attempts at the compare-and-set before giving up on a session that keeps moving. */
const MAX_ATTEMPTS = 5
/** How old a cached user record a refresh may use for its claims (see Store.getUser). */
const USER_MAX_STALE_MS = 5000

/**
 * `grant_type=refresh_token` (RFC 6749 6; DESIGN.md "Refresh semantics").
 *
 * - The current token rotates: one compare-and-set on the session row makes its successor current.
 * - The previous token, inside the grace window fixed at the moment of rotation, returns the same
 *   current token again with a fresh access token: retries after a lost response and concurrent
 *   refreshes converge on one chain (RT-04, REL-01, REL-15). Past the replay limit it is refused
 *   with invalid_grant and nothing is revoked (a guard against runaway clients, not reuse).
 * - Anything else with a valid MAC is reuse: the session is revoked (RT-02, RT-03, RT-05, RT-06).
 * - A token whose MAC does not verify is unknown: invalid_grant, nothing revoked.
 */
export const refreshTokenGrant: GrantHandler = async (g) => {
  const { ctx, body, client } = g
  const presented = requireParam(body, 'refresh_token', 512)
  const requestedScope = parseScope(param(body, 'scope', 2048))
  const resources = requestedResources(body)

  const parsed = ctx.refreshTokens.parse(presented)
  if (!parsed) throw new InvalidGrant('the refresh token is invalid', 'malformed refresh token')
  const rotated = await rotateFromFacts(g, parsed, requestedScope, resources)
  if (rotated) return rotated

  let session = await ctx.store.getSession(parsed.sessionId)
  if (!session || !ctx.refreshTokens.verify(parsed, session.salt)) {
    throw new InvalidGrant('the refresh token is invalid', 'unknown session or bad MAC')
  }
  ctx.sessionFacts.remember(session)
  if (session.clientId !== client.id) {
    throw new InvalidGrant('the refresh token is invalid', 'refresh token of another client')
  }
  // RT-18: before anything is judged or written.
  checkRefreshBinding(session, g.dpop)

  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const now = ctx.clock.now()
    const verdict = judgeSession(session, now)
    if (!verdict.live) {
      if (verdict.persist && verdict.reason) {
        const event = ctx.events.make(
          verdict.state === 'expired' ? 'session_expired' : 'session_abandoned',
          {
            userId: session.userId,
            clientId: session.clientId,
            sessionId: session.id,
            ip: g.ip,
            userAgent: g.userAgent,
            data: { reason: verdict.reason, endedAt: verdict.at, by: 'refresh' },
          },
        )
        await ctx.store.endSession(
          session.id,
          verdict.state,
          verdict.reason,
          now,
          event,
          verdict.at,
          'ended',
        )
      }
      throw new InvalidGrant('the refresh token is no longer valid', `session ${verdict.state}`)
    }
    // One read less on the hot path: a user record up to USER_MAX_STALE_MS old will do. A change
    // made through this process shows at once; one made elsewhere (another instance, the CLI) is
    // caught here at most that late, and the session itself was read fresh above.
    const user = await ctx.store.getUser(session.userId, { maxStaleMs: USER_MAX_STALE_MS })
    const refusal = userRefusal(user, session)
    if (refusal !== undefined || !user) {
      const reason = refusal ?? 'user_deleted'
      // The admin paths end these sessions when they change the user; this catches a change made
      // around them (directly in the database, or by an older version), with its event.
      const event = ctx.events.make('session_revoked', {
        userId: session.userId,
        clientId: session.clientId,
        sessionId: session.id,
        ip: g.ip,
        userAgent: g.userAgent,
        data: { reason, by: 'refresh' },
      })
      await ctx.store.endSession(session.id, 'revoked', reason, now, event, now, 'ended')
      throw new InvalidGrant('the refresh token is no longer valid', reason)
    }
    // Check the request before writing anything: a bad scope or resource changes nothing.
    const { scopes, api } = await tokenRequest(g, requestedScope, resources, session)
    // A pending session refreshes for the issuer only; an API token waits for its task.
    refuseApiWhilePending(ctx, session, api)
    const state = session.state === 'pending' ? 'pending' : 'active'

    const current = session.generation
    let next: SessionRecord | undefined
    if (parsed.generation === current) {
      const r = await ctx.store.rotateRefresh(session.id, current, now, state)
      if (r.ok) next = r.session
    } else if (parsed.generation === current - 1) {
      const grace = graceWindow(client, session)
      if (now >= session.rotatedAt + grace.seconds * 1000) {
        return reuse(g, session, parsed.generation, 'after_grace_window')
      }
      // REL-15: the limit guards the server against a runaway client, not the session against a
      // thief (the first replay already returned the current token): past it, refuse and revoke
      // nothing, as Auth0 and Okta, which count no uses at all, would have answered every one.
      if (session.graceUses >= grace.maxUses) {
        throw new InvalidGrant(
          `the previous refresh token was replayed ${grace.maxUses} times since the rotation: use the current one`,
          'grace replay limit',
        )
      }
      if (await ctx.store.useGrace(session.id, current, grace.maxUses, now, state)) {
        next = { ...session, graceUses: session.graceUses + 1, lastActiveAt: now }
        await ctx.store.recordEvent(
          ctx.events.make('refresh_token_retry', {
            userId: session.userId,
            clientId: session.clientId,
            sessionId: session.id,
            ip: g.ip,
            userAgent: g.userAgent,
            // Supabase's name for it: the client failed to save the rotated token.
            data: {
              cause: 'fail-to-save',
              presentedGeneration: parsed.generation,
              graceUse: next.graceUses,
            },
          }),
        )
      }
    } else {
      return reuse(
        g,
        session,
        parsed.generation,
        parsed.generation < current ? 'stale_lineage' : 'future_generation',
      )
    }

    if (next) return rotatedTokens(g, next, user, { scopes, api })
    // Lost a race with a concurrent rotation or grace use: read again and decide anew.
    session = await ctx.store.getSession(parsed.sessionId)
    if (!session) throw new InvalidGrant('the refresh token is invalid', 'session vanished')
  }
  // Not the client's fault: a retry will find the session settled.
  throw new TemporarilyUnavailable('the session is busy, retry', 1, 503, 'too much contention')
}

/**
 * The common case, a live session's current token, without reading the session: the checks that
 * need only its immutable fields (MAC, client, DPoP binding, user, scope and resource) run on the
 * copy in SessionFacts, and the rotation's compare-and-set checks the rest in the database (active,
 * at the presented generation, live at `now`). Anything else, or any doubt, returns undefined and
 * the full path below reads the session and decides, answering every error exactly as before; a
 * request that takes this path gets exactly what the full path would have given it.
 */
async function rotateFromFacts(
  g: GrantRequest,
  parsed: ParsedRefreshToken,
  requestedScope: string[] | undefined,
  resources: string[],
): Promise<TokenResponse | undefined> {
  const { ctx, client } = g
  const facts = ctx.sessionFacts.get(parsed.sessionId)
  if (!facts || facts.clientId !== client.id) return undefined
  if (!ctx.refreshTokens.verify(parsed, facts.salt)) return undefined
  if (facts.dpopJkt && g.dpop?.jkt !== facts.dpopJkt) return undefined
  const user = await ctx.store.getUser(facts.userId, { maxStaleMs: USER_MAX_STALE_MS })
  if (!user || userRefusal(user, facts) !== undefined) return undefined
  let request: { scopes: string[]; api: ApiRecord }
  try {
    request = await tokenRequest(g, requestedScope, resources, facts)
  } catch {
    return undefined
  }
  const r = await ctx.store.rotateRefresh(facts.id, parsed.generation, ctx.clock.now())
  return r.ok ? rotatedTokens(g, r.session, user, request) : undefined
}

/** The token response for a session at its new generation (or a grace use of the current one). */
function rotatedTokens(
  g: GrantRequest,
  session: SessionRecord,
  user: UserRecord,
  { scopes, api }: { scopes: string[]; api: ApiRecord },
): Promise<TokenResponse> {
  return sessionTokens(g, {
    session,
    user,
    refreshToken: g.ctx.refreshTokens.encode(session.id, session.generation, session.salt),
    api,
    scopes,
    nonce: null,
    grantType: 'refresh_token',
  })
}

/** Why the session's user may no longer refresh (deleted, disabled, password changed after the
 * session began), or undefined. */
function userRefusal(
  user: UserRecord | undefined,
  session: Pick<SessionRecord, 'createdAt'>,
): 'user_deleted' | 'user_disabled' | 'password_change' | undefined {
  if (!user) return 'user_deleted'
  if (user.disabled) return 'user_disabled'
  if (user.passwordChangedAt > session.createdAt) return 'password_change'
  return undefined
}

/** The scope and audience a refresh asks for, within the session's grant (invalid_scope or
 * invalid_target otherwise). */
async function tokenRequest(
  g: GrantRequest,
  requestedScope: string[] | undefined,
  resources: string[],
  session: Pick<SessionRecord, 'scope' | 'resources'>,
): Promise<{ scopes: string[]; api: ApiRecord }> {
  const scopes = narrowScope(
    requestedScope,
    session.scope.split(' ').filter((s) => s !== ''),
  )
  return { scopes, api: await resolveAudience(g.ctx, resources, session.resources) }
}

async function reuse(
  g: GrantRequest,
  session: SessionRecord,
  presentedGeneration: number,
  cause: string,
): Promise<never> {
  const { ctx } = g
  const event = ctx.events.make('refresh_token_reuse', {
    userId: session.userId,
    clientId: session.clientId,
    sessionId: session.id,
    ip: g.ip,
    userAgent: g.userAgent,
    data: { cause, presentedGeneration, currentGeneration: session.generation },
  })
  await ctx.store.endSession(session.id, 'revoked', 'refresh_token_reuse', ctx.clock.now(), event)
  ctx.metrics.reuse.inc({ cause })
  ctx.log.warn({ sessionId: session.id, clientId: session.clientId, cause }, 'refresh token reuse')
  throw new InvalidGrant('the refresh token is no longer valid', `reuse: ${cause}`)
}
