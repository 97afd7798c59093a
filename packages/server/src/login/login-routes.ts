/**
 * The hosted sign-in page (`/login`): GET shows the form of a pending authorization request, POST
 * checks the credentials and, on success, starts a new SSO session and finishes the authorization
 * with a 303 back to the client (RDR-10).
 *
 * - The pending request is a signed, expiring transaction (login-transaction.ts), not a table.
 * - CSRF: a signed double-submit cookie bound to the transaction (csrf.ts).
 * - Throttling (REL-11, DOS-02): per username and source address, and per address, checked
 *   before the password is verified (429); per username from every address, a slowdown that
 *   never refuses. Only failures count, a throttled attempt is not verified and does not count,
 *   success resets the username's counter for that address. Unknown usernames are throttled and
 *   timed like known ones.
 * - One generic error text, whatever failed.
 *
 * @example
 * // GET /login?tx=...            -> 200 form
 * // POST /login tx, csrf, username, password
 * //   -> 303 https://app.example.test/callback?code=...&state=...&iss=...
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'
import { param, type Params } from '../http/form.js'
import { clientIp, userAgent } from '../http/request-info.js'
import { authorize } from '../oauth/authorize/index.js'
import { formParams, queryParams } from '../oauth/authorize/query-params.js'
import { InvalidRequest, TemporarilyUnavailable } from '../oauth/errors.js'
import { PATHS } from '../oauth/paths.js'
import { startBrowserSession } from '../sessions/browser-session.js'
import type { ClientRecord } from '../store/types.js'
import { passkeySignInView } from '../passkeys/passkey-login-routes.js'
import { issueCsrfToken, verifyCsrfToken } from './csrf.js'
import { sendLoginForm, type LoginFormView } from './login-page.js'
import { LoginTransactionCodec, type LoginTransaction } from './login-transaction.js'
import { htmlErrors, sendMessage } from './page.js'
import { confirmedTotp } from '../mfa/second-factor.js'
import { sendOtpForm } from './second-factor-step.js'
import { ACCOUNT_PATHS } from '../accounts/account-services.js'
import { loginRedirectTarget, openPendingLogin } from './pending-login.js'
import { checkCredentials, dummyPasswordHash, PASSWORD_AMR, signInThrottle } from './sign-in.js'

/** The one message for every failed credential check: no account enumeration. */
export const SIGN_IN_FAILED = 'Incorrect username or password.'

export function loginRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const codec = new LoginTransactionCodec(ctx.config.secrets)
  const action = ctx.config.issuer + PATHS.login

  // The dummy hash exists before the first unknown username arrives, so that one is not slower.
  app.addHook('onReady', async () => {
    await dummyPasswordHash(ctx)
  })

  const pending = (p: Params) => openPendingLogin(ctx, codec, p)
  const redirectTarget = loginRedirectTarget

  function expired(reply: FastifyReply): FastifyReply {
    return sendMessage(
      reply,
      400,
      'Sign-in expired',
      'This sign-in page has expired or is not valid. Go back to the application and sign in again.',
    )
  }

  /** Sign-up and password reset links of the form, when available for this client. */
  async function links(p: {
    sealed: string
    client: ClientRecord
  }): Promise<LoginFormView['links']> {
    const tx = `?tx=${encodeURIComponent(p.sealed)}`
    const signUp = await ctx.accounts.signUpEnabled(ctx, p.client)
    return {
      ...(signUp ? { signUp: ctx.config.issuer + ACCOUNT_PATHS.signUp + tx } : {}),
      ...(ctx.mailer.available
        ? { forgotPassword: ctx.config.issuer + ACCOUNT_PATHS.forgotPassword + tx }
        : {}),
    }
  }

  const upstreamButtons = (sealed: string): LoginFormView['upstream'] =>
    ctx.upstream.list.map((u) => ({
      name: u.name,
      href: `${ctx.config.issuer}${PATHS.loginUpstream}/${u.id}?tx=${encodeURIComponent(sealed)}`,
    }))

  app.get(PATHS.login, { onRequest: htmlErrors }, async (req, reply) => {
    const p = await pending(queryParams(req))
    if (!p) return expired(reply)
    return sendLoginForm(reply, 200, {
      links: await links(p),
      action,
      clientName: p.client.name,
      tx: p.sealed,
      csrf: issueCsrfToken(ctx, req, reply, 'login', p.tx.id),
      username: p.tx.params.get('login_hint')?.[0] ?? '',
      redirectUri: redirectTarget(p.tx, p.client),
      passkeys: passkeySignInView(ctx),
      upstream: upstreamButtons(p.sealed),
    })
  })

  app.post(PATHS.login, { onRequest: htmlErrors }, async (req, reply) => {
    const form = formParams(req)
    if (!form) throw new InvalidRequest('the request body must be a form')
    const p = await pending(form)
    if (!p) return expired(reply)
    const formLinks = await links(p)
    const view = (username: string, error: string): LoginFormView => ({
      links: formLinks,
      action,
      clientName: p.client.name,
      tx: p.sealed,
      csrf: issueCsrfToken(ctx, req, reply, 'login', p.tx.id),
      username,
      error,
      redirectUri: redirectTarget(p.tx, p.client),
      passkeys: passkeySignInView(ctx),
      upstream: upstreamButtons(p.sealed),
    })

    if (!verifyCsrfToken(ctx, req, param(form, 'csrf', 128), 'login', p.tx.id)) {
      return sendLoginForm(reply, 403, view('', 'This form has expired. Please sign in again.'))
    }
    const username = param(form, 'username', 256)
    const password = param(form, 'password', 1024)
    if (username === undefined || password === undefined) {
      return sendLoginForm(reply, 400, view(username ?? '', 'Enter your username and password.'))
    }
    return signIn(ctx, req, reply, p.sealed, p.tx, p.client, username, password, (error) =>
      view(username, error),
    )
  })
}

async function signIn(
  ctx: ServerContext,
  req: FastifyRequest,
  reply: FastifyReply,
  sealed: string,
  tx: LoginTransaction,
  client: ClientRecord,
  username: string,
  password: string,
  view: (error: string) => LoginFormView,
): Promise<FastifyReply> {
  const ip = clientIp(req, ctx.config.trustProxy)
  const ua = userAgent(req)
  const throttle = signInThrottle(ctx, username, ip)
  try {
    await ctx.throttle.check(throttle.source)
  } catch (err) {
    if (!(err instanceof TemporarilyUnavailable)) throw err
    ctx.metrics.signIns.inc({ result: 'throttled' })
    const retryAfter = err.headers['retry-after'] ?? '60'
    const minutes = Math.max(1, Math.ceil(Number(retryAfter) / 60))
    reply.header('retry-after', retryAfter)
    return sendLoginForm(
      reply,
      429,
      view(`Too many sign-in attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`),
    )
  }

  // Under a distributed attack on this username: slow every attempt down, the owner's included,
  // but refuse none (the attacker's own addresses are refused by the per-source counters).
  const slowed = (await ctx.throttle.exceeded([throttle.account])) !== undefined
  if (slowed) {
    ctx.metrics.signInSlowdowns.inc()
    await sleep(throttle.account.rule.delayMs)
  }
  const result = await checkCredentials(ctx, username, password)
  if (!result.ok) {
    await ctx.throttle.fail([...throttle.source, throttle.account])
    await ctx.store.recordEvent(
      ctx.events.make('sign_in_failure', {
        userId: result.user?.id ?? null,
        clientId: client.id,
        ip,
        userAgent: ua,
        data: slowed ? { reason: result.reason, slowed } : { reason: result.reason },
      }),
    )
    ctx.metrics.signIns.inc({ result: 'failure' })
    return sendLoginForm(reply, 400, view(SIGN_IN_FAILED))
  }

  await ctx.throttle.reset(throttle.source[0].key)
  // A user with an authenticator always takes the second step (login/second-factor-step.ts).
  if (await confirmedTotp(ctx, result.user.id)) {
    return sendOtpForm(ctx, req, reply, 200, {
      sealedTx: sealed,
      tx,
      client,
      user: result.user,
      browserSessionId: null,
    })
  }
  const session = await startBrowserSession(ctx, req, reply, result.user, PASSWORD_AMR)
  await ctx.store.recordEvent(
    ctx.events.make('sign_in_success', {
      userId: result.user.id,
      clientId: client.id,
      ip,
      userAgent: ua,
      data: { amr: PASSWORD_AMR },
    }),
  )
  ctx.metrics.signIns.inc({ result: 'success' })
  return authorize(ctx, req, reply, tx.params, session)
}
