/**
 * Upstream sign-in ("Sign in with ..."): the authorization code flow of OpenID Connect with a
 * configured provider, on behalf of a pending sign-in (login-transaction.ts).
 *
 * | step | route | checks |
 * |---|---|---|
 * | start | GET `/login/upstream/{id}?tx=` | pending sign-in valid; provider known; discovery |
 * | callback | GET `/login/upstream-callback` | flow cookie opens (sealed, unexpired, this browser); `state` equals it (UP-03); `iss` is the provider's (UP-05, RFC 9207); code exchanged with the PKCE verifier; ID token signature, `iss`, `aud`, `exp`, `nonce` (UP-04) by openid-client |
 * | confirm | POST `/login/upstream-link` | sealed link; CSRF; password of the account with the address (UP-08) |
 *
 * The flow's secrets (PKCE verifier, `state`, `nonce`, the provider and the sealed sign-in) travel
 * in one HttpOnly, SameSite=Lax cookie sealed with AES-256-GCM (sealed-json.ts): only the browser
 * that started the flow can finish it, and a flow is used once (the callback clears the cookie).
 * The session's `amr` holds `fed` (RFC 8176).
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth
 * @see https://www.rfc-editor.org/rfc/rfc9207
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.4
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import * as oidc from 'openid-client'
import type { UpstreamProvider } from '../config/config.js'
import type { ServerContext } from '../context.js'
import { param } from '../http/form.js'
import { clientIp, cookies, serializeCookie, userAgent } from '../http/request-info.js'
import { authorize } from '../oauth/authorize/index.js'
import { formParams, queryParams } from '../oauth/authorize/query-params.js'
import { InvalidRequest, TemporarilyUnavailable } from '../oauth/errors.js'
import { PATHS } from '../oauth/paths.js'
import { secureCookies, startBrowserSession } from '../sessions/browser-session.js'
import type { ClientRecord, UserRecord } from '../store/types.js'
import { issueCsrfToken, verifyCsrfToken } from '../login/csrf.js'
import { LoginTransactionCodec, type LoginTransaction } from '../login/login-transaction.js'
import {
  escapeHtml,
  formAction,
  frontChannelHeaders,
  hidden,
  htmlErrors,
  sendMessage,
  sendPage,
} from '../login/page.js'
import { loginRedirectTarget, openPendingLogin, type PendingLogin } from '../login/pending-login.js'
import { checkCredentials, PASSWORD_AMR, signInThrottle } from '../login/sign-in.js'
import { SealedJson } from './sealed-json.js'
import { resolveUpstreamAccount, type UpstreamIdentity } from './upstream-account.js'

/** `amr` of a sign-in at an upstream identity provider (RFC 8176 §2, "fed"). */
export const AMR_FED = 'fed'

/** Seconds the person has to come back from the provider. */
const FLOW_TTL_SECONDS = 600
/** Seconds the "confirm the link" form stays usable. */
const LINK_TTL_SECONDS = 900
const FLOW_COOKIE_SECURE = '__Host-tessera_upstream'
const FLOW_COOKIE_PLAIN = 'tessera_upstream'
/** Browsers keep cookies up to 4096 bytes, name and attributes included. */
const MAX_COOKIE_VALUE = 3800

/** The flow, sealed in the cookie: provider, PKCE verifier, state, nonce, sealed sign-in, expiry. */
interface Flow {
  p: string
  v: string
  s: string
  n: string
  t: string
  e: number
}

/** A link waiting for the account holder's password: provider, upstream subject, the address,
 * sealed sign-in, expiry. */
interface PendingLink {
  p: string
  u: string
  m: string
  t: string
  e: number
}

const strings = (v: Record<string, unknown>, keys: string[]): boolean =>
  keys.every((k) => typeof v[k] === 'string')
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && typeof (v as { e?: unknown }).e === 'number'
const isFlow = (v: unknown): v is Flow => isObject(v) && strings(v, ['p', 'v', 's', 'n', 't'])
const isPendingLink = (v: unknown): v is PendingLink =>
  isObject(v) && strings(v, ['p', 'u', 'm', 't'])

const UNAVAILABLE = 'Signing in with this provider is not available right now. Try again later.'

export function upstreamRoutes(app: FastifyInstance, ctx: ServerContext): void {
  if (ctx.upstream.list.length === 0) return
  const codec = new LoginTransactionCodec(ctx.config.secrets)
  const flows = new SealedJson(ctx.config.secrets, 'upstream-flow', isFlow)
  const links = new SealedJson(ctx.config.secrets, 'upstream-link', isPendingLink)
  const callbackUrl = ctx.config.issuer + PATHS.loginUpstreamCallback
  const cookieName = secureCookies(ctx) ? FLOW_COOKIE_SECURE : FLOW_COOKIE_PLAIN
  const cookie = (value: string, maxAgeSeconds: number): string =>
    serializeCookie(cookieName, value, {
      secure: secureCookies(ctx),
      sameSite: 'Lax',
      path: '/',
      maxAgeSeconds,
    })

  function expired(reply: FastifyReply): FastifyReply {
    return sendMessage(
      reply,
      400,
      'Sign-in expired',
      'This sign-in has expired or is not valid. Go back to the application and sign in again.',
    )
  }

  function failed(reply: FastifyReply, status = 400): FastifyReply {
    return sendMessage(
      reply,
      status,
      'Sign-in failed',
      status === 400
        ? 'The sign-in with the other provider could not be completed. Go back to the application and sign in again.'
        : UNAVAILABLE,
    )
  }

  app.get<{ Params: { id: string } }>(
    `${PATHS.loginUpstream}/:id`,
    { onRequest: htmlErrors },
    async (req, reply) => {
      const p = await openPendingLogin(ctx, codec, queryParams(req))
      if (!p) return expired(reply)
      const provider = ctx.upstream.provider(req.params.id)
      if (!provider) throw new InvalidRequest('unknown upstream provider')
      let config: oidc.Configuration
      try {
        config = await ctx.upstream.configuration(provider)
      } catch (err) {
        ctx.log.warn({ provider: provider.id, err: errorSummary(err) }, 'upstream discovery failed')
        return failed(reply, 503)
      }
      const flow: Flow = {
        p: provider.id,
        v: ctx.random.bytes(32).toString('base64url'),
        s: ctx.random.bytes(32).toString('base64url'),
        n: ctx.random.bytes(32).toString('base64url'),
        t: p.sealed,
        e: ctx.clock.now() + FLOW_TTL_SECONDS * 1000,
      }
      const sealed = flows.seal(flow, ctx.random)
      if (sealed.length > MAX_COOKIE_VALUE) throw new InvalidRequest('the request is too large')
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: callbackUrl,
        response_type: 'code',
        scope: provider.scopes.join(' '),
        code_challenge: await oidc.calculatePKCECodeChallenge(flow.v),
        code_challenge_method: 'S256',
        state: flow.s,
        nonce: flow.n,
      })
      return frontChannelHeaders(reply)
        .header('set-cookie', cookie(sealed, FLOW_TTL_SECONDS))
        .redirect(url.href, 303)
    },
  )

  app.get(PATHS.loginUpstreamCallback, { onRequest: htmlErrors }, async (req, reply) => {
    const raw = cookies(req).get(cookieName)
    const flow = raw === undefined ? undefined : flows.open(raw, ctx.clock.now())
    // Used once: whatever happens next, this browser's flow is over.
    reply.header('set-cookie', cookie('', 0))
    if (!flow) return expired(reply)
    const provider = ctx.upstream.provider(flow.p)
    const p = await openPendingLogin(ctx, codec, new Map([['tx', [flow.t]]]))
    if (!provider || !p) return expired(reply)
    const ip = clientIp(req, ctx.config.trustProxy)
    const ua = userAgent(req)

    let identity: UpstreamIdentity
    try {
      const config = await ctx.upstream.configuration(provider)
      const query = req.url.indexOf('?')
      const current = new URL(callbackUrl + (query < 0 ? '' : req.url.slice(query)))
      const tokens = await oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: flow.v,
        expectedState: flow.s,
        expectedNonce: flow.n,
        idTokenExpected: true,
      })
      const claims = tokens.claims()
      if (!claims) throw new Error('no ID token')
      identity = {
        sub: claims.sub,
        email: typeof claims.email === 'string' && claims.email !== '' ? claims.email : undefined,
        emailVerified: claims.email_verified === true,
        name: typeof claims.name === 'string' ? claims.name.slice(0, 256) : undefined,
      }
    } catch (err) {
      const reason = errorSummary(err)
      ctx.log.info({ provider: provider.id, reason }, 'upstream sign-in refused')
      await ctx.store.recordEvent(
        ctx.events.make('sign_in_failure', {
          clientId: p.client.id,
          ip,
          userAgent: ua,
          data: { reason: 'upstream', provider: provider.id, detail: reason },
        }),
      )
      ctx.metrics.signIns.inc({ result: 'failure' })
      return failed(reply)
    }

    const account = await resolveUpstreamAccount(ctx, provider, identity, { ip, userAgent: ua })
    if (account.kind === 'refused') {
      await ctx.store.recordEvent(
        ctx.events.make('sign_in_failure', {
          clientId: p.client.id,
          ip,
          userAgent: ua,
          data: { reason: account.reason, provider: provider.id },
        }),
      )
      ctx.metrics.signIns.inc({ result: 'failure' })
      return failed(reply)
    }
    if (account.kind === 'confirm') {
      const link: PendingLink = {
        p: provider.id,
        u: identity.sub,
        m: account.email,
        t: p.sealed,
        e: ctx.clock.now() + LINK_TTL_SECONDS * 1000,
      }
      return sendLinkForm(ctx, req, reply, 200, p, provider, links.seal(link, ctx.random), '')
    }
    return finish(ctx, req, reply, p, account.user, [AMR_FED], provider)
  })

  app.post(PATHS.loginUpstreamLink, { onRequest: htmlErrors }, async (req, reply) => {
    const form = formParams(req)
    if (!form) throw new InvalidRequest('the request body must be a form')
    const sealedLink = param(form, 'link', 8192)
    const link = sealedLink === undefined ? undefined : links.open(sealedLink, ctx.clock.now())
    if (!link || sealedLink === undefined) return expired(reply)
    const provider = ctx.upstream.provider(link.p)
    const p = await openPendingLogin(ctx, codec, new Map([['tx', [link.t]]]))
    if (!provider || !p) return expired(reply)
    const again = (status: number, error: string): FastifyReply =>
      sendLinkForm(ctx, req, reply, status, p, provider, sealedLink, error)
    if (!verifyCsrfToken(ctx, req, param(form, 'csrf', 128), 'upstream-link', p.tx.id)) {
      return again(403, 'This form has expired. Please sign in again.')
    }
    const username = param(form, 'username', 256)
    const password = param(form, 'password', 1024)
    if (username === undefined || password === undefined) {
      return again(400, 'Enter your username and password.')
    }
    const ip = clientIp(req, ctx.config.trustProxy)
    const ua = userAgent(req)
    const throttle = signInThrottle(ctx, username, ip)
    try {
      await ctx.throttle.check(throttle.source)
    } catch (err) {
      if (!(err instanceof TemporarilyUnavailable)) throw err
      reply.header('retry-after', err.headers['retry-after'] ?? '60')
      return again(429, 'Too many sign-in attempts. Try again later.')
    }
    const result = await checkCredentials(ctx, username, password)
    // The account must be the one with the upstream address: the link confirms that address.
    if (!result.ok || result.user.email?.toLowerCase() !== link.m.toLowerCase()) {
      await ctx.throttle.fail([...throttle.source, throttle.account])
      await ctx.store.recordEvent(
        ctx.events.make('sign_in_failure', {
          userId: result.user?.id ?? null,
          clientId: p.client.id,
          ip,
          userAgent: ua,
          data: { reason: result.ok ? 'other_account' : result.reason, provider: provider.id },
        }),
      )
      ctx.metrics.signIns.inc({ result: 'failure' })
      return again(400, 'Incorrect username or password.')
    }
    await ctx.throttle.reset(throttle.source[0].key)
    const stored = await ctx.store.linkUpstream(
      {
        providerId: provider.id,
        subject: link.u,
        userId: result.user.id,
        createdAt: ctx.clock.now(),
      },
      ctx.events.make('upstream_linked', {
        userId: result.user.id,
        clientId: p.client.id,
        ip,
        userAgent: ua,
        data: { provider: provider.id, how: 'confirmed' },
      }),
    )
    if (!stored) {
      const existing = await ctx.store.getUpstreamLink(provider.id, link.u)
      if (existing?.userId !== result.user.id) return failed(reply)
    }
    return finish(ctx, req, reply, p, result.user, [AMR_FED, ...PASSWORD_AMR], provider)
  })
}

/** Starts the browser session (`amr` with `fed`) and finishes the authorization request. */
async function finish(
  ctx: ServerContext,
  req: FastifyRequest,
  reply: FastifyReply,
  p: PendingLogin,
  user: UserRecord,
  amr: string[],
  provider: UpstreamProvider,
): Promise<FastifyReply> {
  const session = await startBrowserSession(ctx, req, reply, user, amr)
  await ctx.store.recordEvent(
    ctx.events.make('sign_in_success', {
      userId: user.id,
      clientId: p.client.id,
      ip: clientIp(req, ctx.config.trustProxy),
      userAgent: userAgent(req),
      data: { amr, provider: provider.id },
    }),
  )
  ctx.metrics.signIns.inc({ result: 'success' })
  return authorize(ctx, req, reply, p.tx.params, session)
}

/** "Confirm the link": the address is an account's here; its password confirms the link. */
function sendLinkForm(
  ctx: ServerContext,
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  p: { sealed: string; tx: LoginTransaction; client: ClientRecord },
  provider: UpstreamProvider,
  sealedLink: string,
  error: string,
): FastifyReply {
  const csrf = issueCsrfToken(ctx, req, reply, 'upstream-link', p.tx.id)
  const body =
    `<h1>Link your account</h1>` +
    `<p>An account here already uses the email address of your ${escapeHtml(provider.name)} ` +
    `account. Sign in to it once to link ${escapeHtml(provider.name)} to it; after that, ` +
    `“Sign in with ${escapeHtml(provider.name)}” signs you in to it.</p>` +
    (error ? `<p class="alert" role="alert">${escapeHtml(error)}</p>` : '') +
    `<form method="post" action="${escapeHtml(ctx.config.issuer + PATHS.loginUpstreamLink)}">` +
    hidden('link', sealedLink) +
    hidden('csrf', csrf) +
    `<label for="username">Username</label>` +
    `<input type="text" id="username" name="username" autocomplete="username" ` +
    `autocapitalize="none" spellcheck="false" maxlength="256" required autofocus>` +
    `<label for="password">Password</label>` +
    `<input type="password" id="password" name="password" autocomplete="current-password" ` +
    `maxlength="1024" required>` +
    `<button type="submit">Sign in and link</button></form>`
  return sendPage(
    reply,
    status,
    'Link your account',
    body,
    formAction(loginRedirectTarget(p.tx, p.client)),
  )
}

/** What went wrong, for the log and the event: the error code and openid-client's message (which
 * names the parameter or claim, never its value), never a token or the `cause`. */
function errorSummary(err: unknown): { code: string; message: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    const error = (err as { error?: unknown }).error
    // openid-client wraps oauth4webapi's error, whose message names the check that failed.
    const inner = err.cause instanceof Error ? `: ${err.cause.message}` : ''
    return {
      code: typeof error === 'string' ? error : typeof code === 'string' ? code : err.name,
      message: (err.message + inner).slice(0, 200),
    }
  }
  return { code: 'error', message: 'unknown' }
}
