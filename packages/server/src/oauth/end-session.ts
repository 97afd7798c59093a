/**
 * RP-initiated logout (`/logout`, GET and POST): ends the browser's SSO session and every client
 * session started from it, records `sign_out` events, clears the cookie, then 303s to the
 * client's registered `post_logout_redirect_uri` with `state`, or shows a signed-out page.
 *
 * - `id_token_hint` must be an ID token we signed (`typ: JWT`; an access token, `at+jwt`, is
 *   refused); an expired one is fine. When the browser's own sign-in cookie is the one the hint's
 *   session was started from, logout happens at once. Otherwise (no hint, no cookie, another
 *   sign-in) the user confirms with a CSRF-protected POST form, so another site cannot sign
 *   people out (logout CSRF), and an ID token that leaked is no sign-out switch (SES-16,
 *   RP-Initiated Logout 1.0 sections 2 and 6). Nothing ends before that confirmation.
 * - A confirmation ends the browser's own sign-in (when it has one) and the one session the hint
 *   names; never, without the cookie, the sign-in behind the hint and its other sessions: only
 *   the browser holding that cookie can show it is the user's.
 * - `post_logout_redirect_uri` must equal one the client registered, character for character; a
 *   different or query-extended URI is an error page and no redirect (SES-13).
 *
 * @example
 * // GET /logout?id_token_hint=...&post_logout_redirect_uri=https://app.example.test/signed-out&state=x
 * // -> 303 https://app.example.test/signed-out?state=x
 *
 * @see https://openid.net/specs/openid-connect-rpinitiated-1_0.html
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'
import { param, type Params } from '../http/form.js'
import { clientIp, userAgent } from '../http/request-info.js'
import { issueCsrfToken, verifyCsrfToken } from '../login/csrf.js'
import {
  escapeHtml,
  formAction,
  frontChannelHeaders,
  hidden,
  htmlErrors,
  sendMessage,
  sendPage,
  textsOf,
} from '../login/page.js'
import {
  browserSessionIdFromCookie,
  clearBrowserSessionCookie,
} from '../sessions/browser-session.js'
import type { BrowserSessionRecord, ClientRecord, SessionRecord } from '../store/types.js'
import { verifyOwnJwt } from '../tokens/verify-own-token.js'
import { formParams, queryParams } from './authorize/query-params.js'
import { InvalidRequest } from './errors.js'
import { PATHS } from './paths.js'

/** What a verified `id_token_hint` tells us. */
export interface IdTokenHint {
  sub: string
  aud: string[]
  azp: string | undefined
  sid: string | undefined
}

/**
 * Verifies an ID token we issued: one of our keys by `kid`, that key's algorithm, `typ: JWT` (an
 * access token's `at+jwt` is refused, JWT-11), our issuer. Expiry is not checked: a hint may be old
 * (RP-Initiated Logout 1.0 section 2).
 */
export async function verifyIdTokenHint(
  ctx: ServerContext,
  token: string,
): Promise<IdTokenHint | undefined> {
  const claims = await verifyOwnJwt(ctx, token, 'JWT', undefined, true)
  if (!claims || typeof claims.sub !== 'string') return undefined
  const aud = typeof claims.aud === 'string' ? [claims.aud] : (claims.aud ?? [])
  if (aud.length === 0) return undefined
  return {
    sub: claims.sub,
    aud,
    azp: typeof claims.azp === 'string' ? claims.azp : undefined,
    sid: typeof claims.sid === 'string' ? claims.sid : undefined,
  }
}

interface LogoutRequest {
  hint: IdTokenHint | undefined
  /** The hint as sent, for the confirmation form. */
  rawHint: string | undefined
  client: ClientRecord | undefined
  redirectUri: string | undefined
  state: string | undefined
}

/** Validates the parameters; anything wrong is an error page (thrown), never a redirect. */
async function readLogoutRequest(ctx: ServerContext, p: Params): Promise<LogoutRequest> {
  const rawHint = param(p, 'id_token_hint', 8192)
  const clientId = param(p, 'client_id', 128)
  const requestedRedirect = param(p, 'post_logout_redirect_uri')
  const state = param(p, 'state')

  const hint = rawHint === undefined ? undefined : await verifyIdTokenHint(ctx, rawHint)
  if (rawHint !== undefined && !hint) {
    throw new InvalidRequest('id_token_hint is not a valid ID token of this server')
  }
  if (hint && clientId !== undefined && !hint.aud.includes(clientId)) {
    throw new InvalidRequest('id_token_hint was not issued to client_id')
  }
  const effectiveClientId = clientId ?? hint?.azp ?? hint?.aud[0]
  const client =
    effectiveClientId === undefined ? undefined : await ctx.store.getClient(effectiveClientId)
  if (effectiveClientId !== undefined && !client) {
    throw new InvalidRequest('client_id does not name a registered client')
  }
  if (requestedRedirect !== undefined) {
    if (!client) {
      throw new InvalidRequest('post_logout_redirect_uri needs client_id or id_token_hint')
    }
    if (!client.postLogoutRedirectUris.includes(requestedRedirect)) {
      throw new InvalidRequest('post_logout_redirect_uri is not registered for this client')
    }
  }
  return {
    hint,
    rawHint: hint ? rawHint : undefined,
    client,
    redirectUri: requestedRedirect,
    state,
  }
}

async function handleLogout(
  ctx: ServerContext,
  req: FastifyRequest,
  reply: FastifyReply,
  p: Params,
  method: 'GET' | 'POST',
): Promise<FastifyReply> {
  const lr = await readLogoutRequest(ctx, p)
  const cookieSessionId = browserSessionIdFromCookie(ctx, req)
  const found =
    cookieSessionId === undefined ? undefined : await ctx.store.getBrowserSession(cookieSessionId)
  const browser = found !== undefined && found.endedAt === null ? found : undefined
  const hintSession = await sessionOfHint(ctx, lr.hint)
  // The hint's session was started from this browser's sign-in: the cookie proves it is the user.
  // (Ended or not: an app usually revokes its refresh token before sending the user here.)
  const own = browser !== undefined && hintSession?.browserSessionId === browser.id
  const hinted =
    hintSession?.state === 'active' || hintSession?.state === 'pending' ? hintSession : undefined
  const answer = param(p, 'confirm', 8)
  if (answer !== undefined && answer !== 'yes' && answer !== 'no') {
    throw new InvalidRequest('confirm must be yes or no')
  }

  const csrf = param(p, 'csrf', 128)
  let confirmed = own
  if (csrf !== undefined) {
    if (method !== 'POST' || !verifyCsrfToken(ctx, req, csrf, 'logout', 'end-session')) {
      return sendMessage(
        reply,
        403,
        'Sign-out not confirmed',
        'This sign-out form has expired. Go back to the application and sign out again.',
      )
    }
    if (answer === 'no') return backToClient(reply, lr, 'Not signed out', STILL_SIGNED_IN)
    confirmed = true
  }
  const somethingToEnd = browser !== undefined || hinted !== undefined
  if (somethingToEnd && !confirmed) return sendConfirmation(ctx, req, reply, lr, browser)

  await endEverything(ctx, req, lr, browser, own ? undefined : hinted)
  clearBrowserSessionCookie(ctx, reply)
  return backToClient(reply, lr, 'Signed out', 'You are signed out. You can close this page.')
}

const STILL_SIGNED_IN = 'Nothing was signed out. You can close this page.'

/** A 303 to the validated `post_logout_redirect_uri` with `state`, or a page saying `message`. */
function backToClient(
  reply: FastifyReply,
  lr: LogoutRequest,
  title: string,
  message: string,
): FastifyReply {
  if (lr.redirectUri !== undefined) {
    const q = lr.state === undefined ? '' : new URLSearchParams({ state: lr.state }).toString()
    const sep = lr.redirectUri.includes('?') ? '&' : '?'
    const location = q === '' ? lr.redirectUri : `${lr.redirectUri}${sep}${q}`
    return frontChannelHeaders(reply).code(303).header('location', location).send()
  }
  return sendMessage(reply, 200, title, message)
}

/** The session the hint's `sid` names, in any state, if it is the hint's user's. */
async function sessionOfHint(
  ctx: ServerContext,
  hint: IdTokenHint | undefined,
): Promise<SessionRecord | undefined> {
  if (hint?.sid === undefined) return undefined
  const s = await ctx.store.getSession(hint.sid)
  return s && s.userId === hint.sub ? s : undefined
}

/**
 * Ends the cookie's browser session with all its client sessions and, when given, the one client
 * session a confirmed hint names (not the sign-in behind it: see the module comment).
 */
async function endEverything(
  ctx: ServerContext,
  req: FastifyRequest,
  lr: LogoutRequest,
  browser: BrowserSessionRecord | undefined,
  hinted: SessionRecord | undefined,
): Promise<void> {
  const now = ctx.clock.now()
  if (hinted && hinted.browserSessionId !== browser?.id) {
    await ctx.store.endSession(
      hinted.id,
      'ended',
      'sign_out',
      now,
      signOutEvent(ctx, req, lr, hinted.userId, hinted.id, hinted.clientId),
      now,
      'ended',
    )
  }
  const targets = new Map<string, string>()
  if (browser) targets.set(browser.id, browser.userId)
  for (const [browserSessionId, userId] of targets) {
    const endedBrowser = await ctx.store.endBrowserSession(browserSessionId, now)
    const ended = await ctx.store.endSessions({ browserSessionId }, 'ended', 'sign_out', now, (s) =>
      signOutEvent(ctx, req, lr, s.userId, s.id, s.clientId),
    )
    if (endedBrowser || ended.length > 0) {
      await ctx.store.recordEvent(
        ctx.events.make('sign_out', {
          userId,
          clientId: lr.client?.id ?? null,
          ip: clientIp(req, ctx.config.trustProxy),
          userAgent: userAgent(req),
          data: { browserSession: true, sessionsEnded: ended.length },
        }),
      )
    }
  }
}

function signOutEvent(
  ctx: ServerContext,
  req: FastifyRequest,
  lr: LogoutRequest,
  userId: string,
  sessionId: string,
  clientId: string | null,
) {
  return ctx.events.make('sign_out', {
    userId,
    clientId,
    sessionId,
    ip: clientIp(req, ctx.config.trustProxy),
    userAgent: userAgent(req),
    data: { initiatedBy: lr.client?.id ?? null },
  })
}

/**
 * The confirmation form. It carries the request's parameters, the hint included (re-verified when
 * posted; the page is `no-store`), and the CSRF token bound to this browser. "Stay signed in"
 * ends nothing and returns to the client like a sign-out would.
 */
function sendConfirmation(
  ctx: ServerContext,
  req: FastifyRequest,
  reply: FastifyReply,
  lr: LogoutRequest,
  browser: BrowserSessionRecord | undefined,
): FastifyReply {
  const csrf = issueCsrfToken(ctx, req, reply, 'logout', 'end-session')
  const t = textsOf(reply)
  const client = { client: lr.client?.name ?? '' }
  const question = escapeHtml(
    lr.client
      ? browser
        ? t('Sign out of {client} and every application that uses this sign-in?', client)
        : t('Sign out of {client}?', client)
      : browser
        ? t('Sign out and every application that uses this sign-in?')
        : t('Sign out?'),
  )
  const body =
    `<h1>${escapeHtml(t('Sign out?'))}</h1><p>${question}</p>` +
    `<form method="post" action="${escapeHtml(ctx.config.issuer + PATHS.endSession)}">` +
    hidden('csrf', csrf) +
    (lr.rawHint !== undefined ? hidden('id_token_hint', lr.rawHint) : '') +
    (lr.client ? hidden('client_id', lr.client.id) : '') +
    (lr.redirectUri !== undefined ? hidden('post_logout_redirect_uri', lr.redirectUri) : '') +
    (lr.state !== undefined ? hidden('state', lr.state) : '') +
    `<button type="submit" name="confirm" value="yes">${escapeHtml(t('Sign out'))}</button>` +
    `<button type="submit" name="confirm" value="no">${escapeHtml(t('Stay signed in'))}</button></form>` +
    `<p>${escapeHtml(t('If you did not ask to sign out, choose Stay signed in or close this page.'))}</p>`
  return sendPage(reply, 200, 'Sign out', body, formAction(lr.redirectUri))
}

/** `/logout`, GET and POST (RP-Initiated Logout 1.0 section 2). */
export function endSessionRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(PATHS.endSession, { onRequest: htmlErrors }, (req, reply) =>
    handleLogout(ctx, req, reply, queryParams(req), 'GET'),
  )
  app.post(PATHS.endSession, { onRequest: htmlErrors }, (req, reply) => {
    const p = formParams(req)
    if (!p) throw new InvalidRequest('the request body must be a form')
    return handleLogout(ctx, req, reply, p, 'POST')
  })
}
