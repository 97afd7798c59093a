/**
 * The self-service pages of the hosted sign-in: sign-up, password reset by email, the email
 * verification link, and the account area (verification resend, password change).
 *
 * | method, path | what |
 * |---|---|
 * | `GET, POST /signup?tx=` | create an account (when sign-up is on for the client), then continue the sign-in |
 * | `GET, POST /login/forgot` | ask for a reset link: one answer, whatever the address |
 * | `GET, POST /login/reset?t=` | choose a new password with a reset link (used once, on POST) |
 * | `GET /verify-email?t=` | a verification link: marks the address verified, completes the `verify-email` task |
 * | `GET /account` | the account area of the browser's sign-in; the `verify-email` task's page (`client_id`, `return_to`) |
 * | `POST /account/verify-email` | send the verification mail again (throttled) |
 * | `POST /account/password` | change the password (current one required) |
 *
 * Every form carries a CSRF token (the signed double-submit cookie of the sign-in page).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'
import { param, type Params } from '../http/form.js'
import { clientIp, userAgent } from '../http/request-info.js'
import { sha256b64u } from '../lib/crypto.js'
import { randomId } from '../lib/random.js'
import { issueCsrfToken, verifyCsrfToken } from '../login/csrf.js'
import { LoginTransactionCodec } from '../login/login-transaction.js'
import { escapeHtml, htmlErrors, sendMessage, sendPage } from '../login/page.js'
import { checkCredentials, PASSWORD_AMR, signInThrottle } from '../login/sign-in.js'
import { authorize } from '../oauth/authorize/index.js'
import { formParams, queryParams } from '../oauth/authorize/query-params.js'
import { InvalidRequest, TemporarilyUnavailable } from '../oauth/errors.js'
import { PATHS } from '../oauth/paths.js'
import {
  clearBrowserSessionCookie,
  readBrowserSession,
  startBrowserSession,
} from '../sessions/browser-session.js'
import type { ThrottleEntry } from '../security/throttle.js'
import type { EndedSession, UserRecord } from '../store/types.js'
import type { RevokeAll } from '../store/store.js'
import { USERNAME } from '../users/create-user.js'
import { hashPassword } from '../users/password.js'
import { useEmailToken, peekEmailToken } from '../email/email-links.js'
import { ACCOUNT_PATHS } from './account-services.js'
import { completeVerifyEmailTask } from './verified-email.js'
import { returnFields, returnTarget } from '../mfa/account-mfa-page.js'
import type { CaptchaAction } from './captcha.js'
import { passwordProblem } from './password-policy.js'
import { sendAccountPage, sendForgotForm, sendResetForm, sendSignUpForm } from './account-pages.js'

const EMAIL = /^[^@\s<>"]{1,64}@[^@\s<>"]{1,189}$/
/** The one answer to a reset request, whether the address has an account or not. */
export const RESET_REQUESTED =
  'If an account uses that address, we have sent it a link to choose a new password. Check your mail.'
const LINK_INVALID =
  'This link is not valid: it was used already, it has expired, or it was changed.'

function formObject(form: Params): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of form) if (k !== 'password' && v[0] !== undefined) out[k] = v[0]
  return out
}

export function accountRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const codec = new LoginTransactionCodec(ctx.config.secrets)
  const url = (path: string) => ctx.config.issuer + path
  const captchaHtml = (action: CaptchaAction) => ctx.accounts.captcha?.fields?.(action) ?? ''

  function unavailable(reply: FastifyReply): FastifyReply {
    return sendMessage(reply, 404, 'Not available', 'This page is not available on this server.')
  }

  async function captchaPasses(req: FastifyRequest, form: Params, action: CaptchaAction) {
    const hook = ctx.accounts.captcha
    if (!hook) return true
    return hook.verify({
      action,
      form: formObject(form),
      ip: clientIp(req, ctx.config.trustProxy),
      userAgent: userAgent(req),
    })
  }

  /** Counts one request against each entry; the first entry past its limit, if any. */
  async function spend(entries: ThrottleEntry[]): Promise<ThrottleEntry | undefined> {
    const over = await ctx.throttle.exceeded(entries)
    if (over) return over
    await ctx.throttle.fail(entries)
    return undefined
  }

  function throttled(reply: FastifyReply, over: ThrottleEntry): FastifyReply {
    const err = ctx.throttle.refusal(over)
    reply.header('retry-after', err.headers['retry-after'] ?? '60')
    return sendMessage(
      reply,
      429,
      'Too many requests',
      'Too many requests from here. Try again later.',
    )
  }

  async function openTx(p: Params) {
    const sealed = param(p, 'tx', 16_384)
    if (sealed === undefined) return undefined
    const tx = codec.open(sealed, ctx.clock.now())
    const clientId = tx?.params.get('client_id')?.[0]
    const client = clientId === undefined ? undefined : await ctx.store.getClient(clientId)
    if (!tx || !client) return undefined
    const redirectUri =
      tx.params.get('redirect_uri')?.[0] ??
      (client.redirectUris.length === 1 ? client.redirectUris[0] : undefined)
    return { sealed, tx, client, redirectUri }
  }

  function revokeAll(userId: string, via: string, req: FastifyRequest): RevokeAll {
    const ip = clientIp(req, ctx.config.trustProxy)
    const ua = userAgent(req)
    return {
      reason: 'password_change',
      now: ctx.clock.now(),
      event: (s: EndedSession) =>
        ctx.events.make('session_revoked', {
          userId,
          clientId: s.clientId,
          sessionId: s.id,
          ip,
          userAgent: ua,
          data: { reason: 'password_change', via },
        }),
    }
  }

  // Sign-up -------------------------------------------------------------------------------------

  app.get(ACCOUNT_PATHS.signUp, { onRequest: htmlErrors }, async (req, reply) => {
    const p = await openTx(queryParams(req))
    if (!p)
      return sendMessage(
        reply,
        400,
        'Sign-up expired',
        'This page has expired. Go back to the application and start again.',
      )
    if (!(await ctx.accounts.signUpEnabled(ctx, p.client))) return unavailable(reply)
    return sendSignUpForm(reply, 200, {
      action: url(ACCOUNT_PATHS.signUp),
      clientName: p.client.name,
      tx: p.sealed,
      csrf: issueCsrfToken(ctx, req, reply, 'login', p.tx.id),
      email: p.tx.params.get('login_hint')?.[0] ?? '',
      name: '',
      captchaHtml: captchaHtml('sign_up'),
      signInUrl: `${url(PATHS.login)}?tx=${encodeURIComponent(p.sealed)}`,
      redirectUri: p.redirectUri,
    })
  })

  app.post(ACCOUNT_PATHS.signUp, { onRequest: htmlErrors }, async (req, reply) => {
    const form = formParams(req)
    if (!form) throw new InvalidRequest('the request body must be a form')
    const p = await openTx(form)
    if (!p)
      return sendMessage(
        reply,
        400,
        'Sign-up expired',
        'This page has expired. Go back to the application and start again.',
      )
    if (!(await ctx.accounts.signUpEnabled(ctx, p.client))) return unavailable(reply)
    const email = param(form, 'email', 254)?.trim() ?? ''
    const name = param(form, 'name', 200)?.trim() ?? ''
    const show = (status: number, error: string) =>
      sendSignUpForm(reply, status, {
        action: url(ACCOUNT_PATHS.signUp),
        clientName: p.client.name,
        tx: p.sealed,
        csrf: issueCsrfToken(ctx, req, reply, 'login', p.tx.id),
        email,
        name,
        error,
        captchaHtml: captchaHtml('sign_up'),
        signInUrl: `${url(PATHS.login)}?tx=${encodeURIComponent(p.sealed)}`,
        redirectUri: p.redirectUri,
      })
    if (!verifyCsrfToken(ctx, req, param(form, 'csrf', 128), 'login', p.tx.id)) {
      return show(403, 'This form has expired. Please try again.')
    }
    if (!(await captchaPasses(req, form, 'sign_up'))) return show(400, 'Please complete the check.')
    const ip = clientIp(req, ctx.config.trustProxy)
    const over = await spend([{ key: `signup-ip:${ip}`, rule: ctx.config.throttle.signUpPerIp }])
    if (over) {
      const err = ctx.throttle.refusal(over)
      reply.header('retry-after', err.headers['retry-after'] ?? '60')
      return show(429, 'Too many sign-ups from here. Try again later.')
    }
    const password = param(form, 'password', 4096) ?? ''
    if (!EMAIL.test(email)) return show(400, 'Enter your email address.')
    // The address becomes the username, whose characters are limited.
    if (!USERNAME.test(email)) {
      return show(
        400,
        'Use an address of letters, digits and . _ @ + - only, at most 128 characters.',
      )
    }
    const problem = passwordProblem(password, {
      minLength: ctx.config.accounts.passwordMinLength,
      email,
    })
    if (problem) return show(400, problem)

    const taken =
      (await ctx.store.getUserByUsername(email)) !== undefined ||
      (await ctx.store.getUsersByEmail(email)).length > 0
    const exists = 'An account with this address exists already. Sign in, or reset your password.'
    if (taken) return show(409, exists)
    const now = ctx.clock.now()
    const user: UserRecord = {
      id: `usr_${randomId(ctx.random)}`,
      username: email,
      passwordHash: await hashPassword(password, ctx.config.passwordCost),
      email,
      name: name === '' ? null : name,
      disabled: false,
      metadata: {},
      passwordChangedAt: now,
      emailVerifiedAt: null,
      createdAt: now,
      updatedAt: now,
    }
    const ua = userAgent(req)
    const written = await ctx.store.writeUser(
      { create: user },
      {
        events: [
          ctx.events.make('user_signed_up', {
            userId: user.id,
            clientId: p.client.id,
            ip,
            userAgent: ua,
          }),
        ],
      },
    )
    if (!written.ok) return show(409, exists)
    ctx.accounts.queueVerification(ctx, user)
    const session = await startBrowserSession(ctx, req, reply, user, PASSWORD_AMR)
    await ctx.store.recordEvent(
      ctx.events.make('sign_in_success', {
        userId: user.id,
        clientId: p.client.id,
        ip,
        userAgent: ua,
        data: { amr: PASSWORD_AMR, via: 'sign_up' },
      }),
    )
    ctx.metrics.signIns.inc({ result: 'success' })
    // The new address is unverified: where the client requires a verified one, the session this
    // sign-in starts is `pending` with the task `verify-email` (decided at the token endpoint,
    // as for every sign-in: accounts/verified-email.ts) until the link is used.
    return authorize(ctx, req, reply, p.tx.params, session)
  })

  // Password reset ------------------------------------------------------------------------------

  app.get(ACCOUNT_PATHS.forgotPassword, { onRequest: htmlErrors }, async (req, reply) => {
    if (!ctx.mailer.available) return unavailable(reply)
    const tx = param(queryParams(req), 'tx', 16_384)
    return sendForgotForm(reply, 200, {
      action: url(ACCOUNT_PATHS.forgotPassword),
      csrf: issueCsrfToken(ctx, req, reply, 'account', 'forgot'),
      tx,
      captchaHtml: captchaHtml('password_reset'),
    })
  })

  app.post(ACCOUNT_PATHS.forgotPassword, { onRequest: htmlErrors }, async (req, reply) => {
    if (!ctx.mailer.available) return unavailable(reply)
    const form = formParams(req)
    if (!form) throw new InvalidRequest('the request body must be a form')
    const tx = param(form, 'tx', 16_384)
    const show = (status: number, error: string) =>
      sendForgotForm(reply, status, {
        action: url(ACCOUNT_PATHS.forgotPassword),
        csrf: issueCsrfToken(ctx, req, reply, 'account', 'forgot'),
        tx,
        error,
        captchaHtml: captchaHtml('password_reset'),
      })
    if (!verifyCsrfToken(ctx, req, param(form, 'csrf', 128), 'account', 'forgot')) {
      return show(403, 'This form has expired. Please try again.')
    }
    if (!(await captchaPasses(req, form, 'password_reset')))
      return show(400, 'Please complete the check.')
    const email = param(form, 'email', 254)?.trim() ?? ''
    if (!EMAIL.test(email)) return show(400, 'Enter your email address.')
    const ip = clientIp(req, ctx.config.trustProxy)
    const over = await spend([
      { key: `account-mail-ip:${ip}`, rule: ctx.config.throttle.accountMailPerIp },
    ])
    if (over) return throttled(reply, over)
    // Nothing above depends on the address being known; what does runs in the mail queue.
    const addressKey = `account-mail-address:${sha256b64u(email.toLowerCase())}`
    ctx.accounts.queueResetByAddress(
      ctx,
      email,
      async () =>
        (await spend([{ key: addressKey, rule: ctx.config.throttle.accountMailPerAddress }])) ===
        undefined,
    )
    const back =
      tx === undefined
        ? ''
        : `<p><a href="${escapeHtml(`${url(PATHS.login)}?tx=${encodeURIComponent(tx)}`)}">Back to sign-in</a></p>`
    return sendPage(
      reply,
      200,
      'Check your mail',
      `<h1>Check your mail</h1><p>${escapeHtml(RESET_REQUESTED)}</p>${back}`,
    )
  })

  app.get(ACCOUNT_PATHS.resetPassword, { onRequest: htmlErrors }, async (req, reply) => {
    const token = param(queryParams(req), 't', 128)
    const t = await peekEmailToken(ctx, 'reset_password', token)
    const user = t ? await ctx.store.getUser(t.userId) : undefined
    if (!t || !user || user.disabled || user.email?.toLowerCase() !== t.email.toLowerCase()) {
      return sendMessage(reply, 400, 'Link not valid', LINK_INVALID)
    }
    return sendResetForm(reply, 200, {
      action: url(ACCOUNT_PATHS.resetPassword),
      token: token as string,
      csrf: issueCsrfToken(ctx, req, reply, 'account', `reset:${t.tokenHash}`),
      username: user.username,
    })
  })

  app.post(ACCOUNT_PATHS.resetPassword, { onRequest: htmlErrors }, async (req, reply) => {
    const form = formParams(req)
    if (!form) throw new InvalidRequest('the request body must be a form')
    const token = param(form, 't', 128)
    const t = await peekEmailToken(ctx, 'reset_password', token)
    const user = t ? await ctx.store.getUser(t.userId) : undefined
    if (!t || !user || user.disabled || user.email?.toLowerCase() !== t.email.toLowerCase()) {
      return sendMessage(reply, 400, 'Link not valid', LINK_INVALID)
    }
    const show = (status: number, error: string) =>
      sendResetForm(reply, status, {
        action: url(ACCOUNT_PATHS.resetPassword),
        token: token as string,
        csrf: issueCsrfToken(ctx, req, reply, 'account', `reset:${t.tokenHash}`),
        username: user.username,
        error,
      })
    if (!verifyCsrfToken(ctx, req, param(form, 'csrf', 128), 'account', `reset:${t.tokenHash}`)) {
      return show(403, 'This form has expired. Please try again.')
    }
    const password = param(form, 'password', 4096) ?? ''
    const problem = passwordProblem(password, {
      minLength: ctx.config.accounts.passwordMinLength,
      username: user.username,
      email: user.email,
    })
    if (problem) return show(400, problem)
    // The link is spent here, once; a concurrent second use finds it used.
    const used = await useEmailToken(ctx, 'reset_password', token)
    if (!used) return sendMessage(reply, 400, 'Link not valid', LINK_INVALID)
    const now = ctx.clock.now()
    const next: UserRecord = {
      ...user,
      passwordHash: await hashPassword(password, ctx.config.passwordCost),
      passwordChangedAt: now,
      // Following the link proved the mailbox.
      emailVerifiedAt: user.emailVerifiedAt ?? now,
      updatedAt: now,
    }
    const ip = clientIp(req, ctx.config.trustProxy)
    const r = await ctx.store.writeUser(
      { update: next, expectedUpdatedAt: user.updatedAt },
      {
        revoke: revokeAll(user.id, 'password_reset', req),
        events: [
          ctx.events.make('password_reset', { userId: user.id, ip, userAgent: userAgent(req) }),
        ],
      },
    )
    if (!r.ok)
      return sendMessage(
        reply,
        409,
        'Try again',
        'Your account changed meanwhile. Ask for a new link.',
      )
    await ctx.store.voidEmailTokens(user.id, 'reset_password', now)
    ctx.accounts.queuePasswordChanged(ctx, next, 'with a reset link sent by mail')
    clearBrowserSessionCookie(ctx, reply)
    return sendMessage(
      reply,
      200,
      'Password changed',
      'Your password was changed and every session of your account was signed out. Go back to your application and sign in with the new password.',
    )
  })

  // Verification link ---------------------------------------------------------------------------

  app.get(ACCOUNT_PATHS.verifyEmail, { onRequest: htmlErrors }, async (req, reply) => {
    const used = await useEmailToken(ctx, 'verify_email', param(queryParams(req), 't', 128))
    const user = used ? await ctx.store.getUser(used.userId) : undefined
    if (!used || !user || user.email?.toLowerCase() !== used.email.toLowerCase()) {
      return sendMessage(reply, 400, 'Link not valid', LINK_INVALID)
    }
    if (user.emailVerifiedAt === null) {
      const now = ctx.clock.now()
      const written = await ctx.store.writeUser(
        {
          update: { ...user, emailVerifiedAt: now, updatedAt: now },
          expectedUpdatedAt: user.updatedAt,
        },
        {
          events: [
            ctx.events.make('email_verified', {
              userId: user.id,
              ip: clientIp(req, ctx.config.trustProxy),
              userAgent: userAgent(req),
            }),
          ],
        },
      )
      // The account changed between the read and the write: nothing was verified.
      if (!written.ok) {
        return sendMessage(
          reply,
          409,
          'Try again',
          'Your account changed meanwhile. Ask for a new verification link.',
        )
      }
    }
    // The address is verified (now, or by an earlier link): the user's sessions waiting for it,
    // on any browser or device, become active.
    await completeVerifyEmailTask(ctx, req, user.id)
    return sendMessage(
      reply,
      200,
      'Address verified',
      `${used.email} is verified. You can close this page.`,
    )
  })

  // Account area --------------------------------------------------------------------------------

  async function accountPage(
    req: FastifyRequest,
    reply: FastifyReply,
    status: number,
    user: UserRecord,
    binding: string,
    extra: { notice?: string; error?: string } = {},
    /** The query or form: `client_id` and `return_to` of the application that sent the user. */
    from?: Params,
  ) {
    const back = from ? await returnTarget(ctx, from) : undefined
    return sendAccountPage(reply, status, {
      ...(back !== undefined && from ? { back, carry: returnFields(from) } : {}),
      username: user.username,
      email: user.email,
      emailVerified: user.emailVerifiedAt !== null || user.metadata.email_verified === true,
      csrf: issueCsrfToken(ctx, req, reply, 'account', binding),
      resendAction: url(ACCOUNT_PATHS.accountResend),
      passwordAction: url(ACCOUNT_PATHS.accountPassword),
      ...extra,
    })
  }

  const notSignedIn = (reply: FastifyReply) =>
    sendMessage(
      reply,
      401,
      'Not signed in',
      'Sign in through your application first, then open this page again.',
    )

  app.get(ACCOUNT_PATHS.accountPage, { onRequest: htmlErrors }, async (req, reply) => {
    const s = await readBrowserSession(ctx, req)
    if (!s) return notSignedIn(reply)
    return accountPage(req, reply, 200, s.user, s.record.id, {}, queryParams(req))
  })

  app.post(ACCOUNT_PATHS.accountResend, { onRequest: htmlErrors }, async (req, reply) => {
    const form = formParams(req)
    if (!form) throw new InvalidRequest('the request body must be a form')
    const s = await readBrowserSession(ctx, req)
    if (!s) return notSignedIn(reply)
    if (!verifyCsrfToken(ctx, req, param(form, 'csrf', 128), 'account', s.record.id)) {
      return accountPage(req, reply, 403, s.user, s.record.id, {
        error: 'This form has expired. Please try again.',
      })
    }
    if (!ctx.mailer.available || s.user.email === null) return unavailable(reply)
    if (s.user.emailVerifiedAt !== null) {
      return accountPage(
        req,
        reply,
        200,
        s.user,
        s.record.id,
        { notice: 'Your address is verified already.' },
        form,
      )
    }
    const ip = clientIp(req, ctx.config.trustProxy)
    const over = await spend([
      { key: `account-mail-ip:${ip}`, rule: ctx.config.throttle.accountMailPerIp },
      { key: `account-mail-user:${s.user.id}`, rule: ctx.config.throttle.accountMailPerAddress },
    ])
    if (over) return throttled(reply, over)
    ctx.accounts.queueVerification(ctx, s.user)
    await ctx.store.recordEvent(
      ctx.events.make('email_verification_sent', {
        userId: s.user.id,
        ip,
        userAgent: userAgent(req),
        data: { via: 'account' },
      }),
    )
    return accountPage(
      req,
      reply,
      200,
      s.user,
      s.record.id,
      { notice: `We sent a new verification link to ${s.user.email}.` },
      form,
    )
  })

  app.post(ACCOUNT_PATHS.accountPassword, { onRequest: htmlErrors }, async (req, reply) => {
    const form = formParams(req)
    if (!form) throw new InvalidRequest('the request body must be a form')
    const s = await readBrowserSession(ctx, req)
    if (!s) return notSignedIn(reply)
    const show = (status: number, error: string) =>
      accountPage(req, reply, status, s.user, s.record.id, { error })
    if (!verifyCsrfToken(ctx, req, param(form, 'csrf', 128), 'account', s.record.id)) {
      return show(403, 'This form has expired. Please try again.')
    }
    const current = param(form, 'current_password', 1024) ?? ''
    const password = param(form, 'new_password', 4096) ?? ''
    const ip = clientIp(req, ctx.config.trustProxy)
    // Guessing the current password here is a sign-in attempt: same counters, same limits.
    const throttle = signInThrottle(ctx, s.user.username, ip)
    try {
      await ctx.throttle.check(throttle.source)
    } catch (err) {
      if (!(err instanceof TemporarilyUnavailable)) throw err
      reply.header('retry-after', err.headers['retry-after'] ?? '60')
      return show(429, 'Too many attempts. Try again later.')
    }
    const check = await checkCredentials(ctx, s.user.username, current)
    if (!check.ok || check.user.id !== s.user.id) {
      await ctx.throttle.fail([...throttle.source, throttle.account])
      return show(400, 'Your current password is not correct.')
    }
    const problem = passwordProblem(password, {
      minLength: ctx.config.accounts.passwordMinLength,
      username: s.user.username,
      email: s.user.email,
    })
    if (problem) return show(400, problem)
    const now = ctx.clock.now()
    const next: UserRecord = {
      ...check.user,
      passwordHash: await hashPassword(password, ctx.config.passwordCost),
      passwordChangedAt: now,
      updatedAt: now,
    }
    const r = await ctx.store.writeUser(
      { update: next, expectedUpdatedAt: check.user.updatedAt },
      {
        revoke: revokeAll(s.user.id, 'account', req),
        events: [
          ctx.events.make('password_changed', {
            userId: s.user.id,
            ip,
            userAgent: userAgent(req),
            data: { via: 'account' },
          }),
        ],
      },
    )
    if (!r.ok) return show(409, 'Your account changed meanwhile. Try again.')
    ctx.accounts.queuePasswordChanged(ctx, next, 'from your account page')
    // Every session ended with the change, this browser's too; this browser, which proved the
    // current password, gets a fresh sign-in so the user stays signed in here.
    const fresh = await startBrowserSession(ctx, req, reply, next, PASSWORD_AMR)
    return accountPage(req, reply, 200, next, fresh.record.id, {
      notice: 'Your password was changed. Every other session of your account was signed out.',
    })
  })
}
