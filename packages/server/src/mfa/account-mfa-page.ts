/**
 * The hosted two-step verification page (`/account/mfa`), for the browser's signed-in user (the
 * SSO cookie): TOTP enrolment with a QR code and the secret for manual entry, confirmed by a
 * first valid code, after which ten recovery codes are shown once; or, for a user who has an
 * authenticator, a code that adds the second factor to this browser's sign-in. Either way the
 * browser's sign-in starts anew with `amr` `... otp mfa`, and its client sessions pending the task
 * `setup-mfa` become active (their next refresh carries the new `amr` and `acr`, and no
 * `tessera_task`).
 *
 * Apps send users here from the route of the `setup-mfa` task, with `client_id` and `return_to`
 * (an address on the origin of one of the client's redirect URIs or web origins) for the link
 * back. No JavaScript; the QR code is inline SVG markup, so the page's CSP stays
 * `default-src 'none'` (no image source is needed).
 *
 * @example
 * // GET  /account/mfa?client_id=web-app&return_to=https://app.example.com/
 * // POST /account/mfa action=enrol, code, csrf  -> 200 the recovery codes
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import QRCode from 'qrcode'
import type { ServerContext } from '../context.js'
import { param, type Params } from '../http/form.js'
import { clientIp, userAgent } from '../http/request-info.js'
import { issueCsrfToken, verifyCsrfToken } from '../login/csrf.js'
import type { Translate } from '../login/i18n/locale.js'
import { escapeHtml, hidden, htmlErrors, sendMessage, sendPage, textsOf } from '../login/page.js'
import { formParams, queryParams } from '../oauth/authorize/query-params.js'
import { InvalidRequest } from '../oauth/errors.js'
import { PATHS } from '../oauth/paths.js'
import {
  readBrowserSession,
  startBrowserSession,
  type ActiveBrowserSession,
} from '../sessions/browser-session.js'
import {
  confirmedTotp,
  decryptTotpSecret,
  encryptTotpSecret,
  enrolmentStep,
  hasSecondFactor,
  mfaThrottle,
  newRecoveryCodes,
  normalizeRecoveryCode,
  recoveryCodeHash,
  verifySecondFactor,
  withSecondFactor,
} from './second-factor.js'
import { base32, newTotpSecret, otpauthUri } from './totp.js'
import { clientsAwaitingVerification } from '../accounts/verified-email.js'

/** Where the page links back to: an http(s) address on an origin the client registered. */
export async function returnTarget(ctx: ServerContext, p: Params): Promise<string | undefined> {
  const clientId = param(p, 'client_id', 128)
  const returnTo = param(p, 'return_to', 2048)
  if (clientId === undefined || returnTo === undefined) return undefined
  const client = await ctx.store.getClient(clientId)
  if (!client) return undefined
  let url: URL
  try {
    url = new URL(returnTo)
  } catch {
    return undefined
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined
  const origins = new Set<string>(client.webOrigins ?? [])
  for (const u of client.redirectUris) {
    try {
      const o = new URL(u)
      if (o.protocol === 'https:' || o.protocol === 'http:') origins.add(o.origin)
    } catch {
      // registered URIs were validated; a private-use scheme has no web origin
    }
  }
  return origins.has(url.origin) ? url.href : undefined
}

function backLink(t: Translate, target: string | undefined): string {
  return target === undefined
    ? `<p>${escapeHtml(t('You can close this page and go back to the application.'))}</p>`
    : `<p><a href="${escapeHtml(target)}">${escapeHtml(t('Back to the application'))}</a></p>`
}

/** The form's error, announced and tied to the code field (aria-describedby). */
function formError(t: Translate, error: string | undefined): string {
  return error
    ? `<div id="form-error"><p class="alert" role="alert">${escapeHtml(t(error))}</p></div>`
    : ''
}

/** Hidden fields that carry the way back through the form. */
export function returnFields(p: Params): string {
  const clientId = param(p, 'client_id', 128)
  const returnTo = param(p, 'return_to', 2048)
  return (
    (clientId !== undefined ? hidden('client_id', clientId) : '') +
    (returnTo !== undefined ? hidden('return_to', returnTo) : '')
  )
}

export function accountMfaRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const action = ctx.config.issuer + PATHS.accountMfa

  const notSignedIn = (reply: FastifyReply): FastifyReply =>
    sendMessage(
      reply,
      401,
      'Not signed in',
      'You are not signed in here. Go back to the application and sign in again.',
    )

  const signInAgain = (reply: FastifyReply): FastifyReply =>
    sendMessage(
      reply,
      401,
      'Sign in again',
      'Setting up two-step verification needs a recent sign-in. Go back to the application and sign in again.',
    )

  /** Enrolment needs a recent sign-in: whoever finds an unattended signed-in browser must not be
   * able to bind their own authenticator to the account. */
  const recent = (live: ActiveBrowserSession): boolean =>
    ctx.clock.now() - live.record.authTime <= ctx.config.account.maxAuthAgeSeconds * 1000

  async function enrolForm(
    req: FastifyRequest,
    reply: FastifyReply,
    live: ActiveBrowserSession,
    p: Params,
    status: number,
    error?: string,
  ): Promise<FastifyReply> {
    let enrolling = await ctx.store.getTotp(live.user.id)
    if (!enrolling || enrolling.confirmedAt !== null) {
      const written = await ctx.store.beginTotp({
        userId: live.user.id,
        secretEnc: encryptTotpSecret(ctx, live.user.id, newTotpSecret(ctx.random)),
        createdAt: ctx.clock.now(),
        confirmedAt: null,
        lastStep: null,
      })
      if (!written) return statusPage(req, reply, live, p)
      // Read back: of two enrolments racing, the page shows the secret that was stored.
      enrolling = await ctx.store.getTotp(live.user.id)
      if (!enrolling) return statusPage(req, reply, live, p)
    }
    const secret = decryptTotpSecret(ctx, live.user.id, enrolling.secretEnc)
    const issuer = new URL(ctx.config.issuer).host
    const uri = otpauthUri({ issuer, account: live.user.username, secret })
    const svg = await QRCode.toString(uri, {
      type: 'svg',
      errorCorrectionLevel: 'M',
      margin: 2,
      width: 200,
    })
    const manual = base32(secret)
      .replace(/(.{4})/g, '$1 ')
      .trim()
    const csrf = issueCsrfToken(ctx, req, reply, 'account-mfa', live.record.id)
    const t = textsOf(reply)
    const body =
      `<h1>${escapeHtml(t('Set up two-step verification'))}</h1>` +
      formError(t, error) +
      `<p>${escapeHtml(t('Scan this code with an authenticator app (Google Authenticator, 1Password, Authy ...).'))}</p>` +
      `<figure aria-label="${escapeHtml(t('QR code'))}">${svg}</figure>` +
      `<p>${escapeHtml(t('Or enter this key:'))} <code id="secret">${escapeHtml(manual)}</code></p>` +
      codeForm(csrf, 'enrol', p, t('The 6-digit code the app shows'), 6, t('Turn on'), error)
    return sendPage(reply, status, 'Set up two-step verification', body, ["'self'"])
  }

  /** The one-field code form of the enrolment and verification pages (texts already translated). */
  function codeForm(
    csrf: string,
    step: 'enrol' | 'verify',
    p: Params,
    label: string,
    maxlength: number,
    button: string,
    error: string | undefined,
  ): string {
    const described = error ? ' aria-describedby="form-error" aria-invalid="true"' : ''
    return (
      `<form method="post" action="${escapeHtml(action)}">` +
      hidden('csrf', csrf) +
      hidden('action', step) +
      returnFields(p) +
      `<label for="code">${escapeHtml(label)}</label>` +
      `<input type="text" id="code" name="code" autocomplete="one-time-code" inputmode="numeric" ` +
      `maxlength="${maxlength}" required autofocus${described}>` +
      `<button type="submit">${escapeHtml(button)}</button></form>`
    )
  }

  function verifyForm(
    req: FastifyRequest,
    reply: FastifyReply,
    live: ActiveBrowserSession,
    p: Params,
    status: number,
    error?: string,
  ): FastifyReply {
    const csrf = issueCsrfToken(ctx, req, reply, 'account-mfa', live.record.id)
    const t = textsOf(reply)
    const body =
      `<h1>${escapeHtml(t('Two-step verification'))}</h1>` +
      formError(t, error) +
      `<p>${escapeHtml(t('Enter a code from your authenticator app, or a recovery code, to continue.'))}</p>` +
      codeForm(csrf, 'verify', p, t('Code'), 32, t('Verify'), error)
    return sendPage(reply, status, 'Two-step verification', body, ["'self'"])
  }

  async function statusPage(
    _req: FastifyRequest,
    reply: FastifyReply,
    live: ActiveBrowserSession,
    p: Params,
  ): Promise<FastifyReply> {
    const left = await ctx.store.countRecoveryCodes(live.user.id)
    const t = textsOf(reply)
    const unused =
      left === 1
        ? t('You have {n} unused recovery code.', { n: '1' })
        : t('You have {n} unused recovery codes.', { n: String(left) })
    return sendPage(
      reply,
      200,
      'Two-step verification',
      `<h1>${escapeHtml(t('Two-step verification is on'))}</h1><p>${escapeHtml(unused)}</p>` +
        backLink(t, await returnTarget(ctx, p)),
    )
  }

  /** The browser's sign-in starts anew with the second factor, and its pending sessions whose
   * task was `setup-mfa` become active, or, where a verified address is required and the user's
   * is not, pending with the next task, `verify-email`. */
  async function upgrade(
    req: FastifyRequest,
    reply: FastifyReply,
    live: ActiveBrowserSession,
    method: string,
  ): Promise<void> {
    const amr = withSecondFactor(live.record.amr)
    const fresh = await startBrowserSession(ctx, req, reply, live.user, amr)
    const ip = clientIp(req, ctx.config.trustProxy)
    const ua = userAgent(req)
    await ctx.store.completeSessionTask(
      {
        browserSessionId: fresh.record.id,
        task: 'setup-mfa',
        amr,
        authTime: fresh.record.authTime,
        next: {
          task: 'verify-email',
          clientIds: await clientsAwaitingVerification(ctx, live.user),
        },
      },
      (done) =>
        done.map((s) =>
          ctx.events.make('session_task_completed', {
            userId: s.userId,
            clientId: s.clientId,
            sessionId: s.id,
            ip,
            userAgent: ua,
            data: { task: 'setup-mfa', method },
          }),
        ),
    )
  }

  app.get(PATHS.accountMfa, { onRequest: htmlErrors }, async (req, reply) => {
    const p = queryParams(req)
    const live = await readBrowserSession(ctx, req)
    if (!live) return notSignedIn(reply)
    if (await confirmedTotp(ctx, live.user.id)) {
      if (hasSecondFactor(live.record.amr)) return statusPage(req, reply, live, p)
      return verifyForm(req, reply, live, p, 200)
    }
    if (!recent(live)) return signInAgain(reply)
    return enrolForm(req, reply, live, p, 200)
  })

  app.post(PATHS.accountMfa, { onRequest: htmlErrors }, async (req, reply) => {
    const form = formParams(req)
    if (!form) throw new InvalidRequest('the request body must be a form')
    const live = await readBrowserSession(ctx, req)
    if (!live) return notSignedIn(reply)
    const what = param(form, 'action', 16)
    const expiredForm = 'This form has expired. Please try again.'
    const csrfOk = verifyCsrfToken(
      ctx,
      req,
      param(form, 'csrf', 128),
      'account-mfa',
      live.record.id,
    )
    const code = param(form, 'code', 64) ?? ''

    if (what === 'verify') {
      if (!csrfOk) return verifyForm(req, reply, live, form, 403, expiredForm)
      const r = await verifySecondFactor(ctx, live.user, code, {
        ip: clientIp(req, ctx.config.trustProxy),
        userAgent: userAgent(req),
        clientId: param(form, 'client_id', 128) ?? null,
        via: 'account_page',
      })
      if (!r.ok) {
        if (r.reason === 'no_authenticator') {
          return recent(live) ? enrolForm(req, reply, live, form, 400) : signInAgain(reply)
        }
        if (r.reason === 'throttled') {
          reply.header('retry-after', r.retryAfter)
          return verifyForm(req, reply, live, form, 429, 'Too many wrong codes. Try again later.')
        }
        return verifyForm(req, reply, live, form, 400, 'That code is not valid. Try again.')
      }
      await upgrade(req, reply, live, r.method)
      return sendPage(
        reply,
        200,
        'Verified',
        `<h1>${escapeHtml(textsOf(reply)('Verified'))}</h1>` +
          backLink(textsOf(reply), await returnTarget(ctx, form)),
      )
    }
    if (what !== 'enrol') throw new InvalidRequest('action must be enrol or verify')

    if (!csrfOk) return enrolForm(req, reply, live, form, 403, expiredForm)
    if (!recent(live)) return signInAgain(reply)
    const pendingTotp = await ctx.store.getTotp(live.user.id)
    if (!pendingTotp || pendingTotp.confirmedAt !== null) {
      return statusPage(req, reply, live, form)
    }
    const throttle = mfaThrottle(ctx, live.user.id)
    const over = await ctx.throttle.exceeded([throttle])
    if (over) {
      reply.header('retry-after', ctx.throttle.refusal(over).headers['retry-after'] ?? '60')
      return enrolForm(req, reply, live, form, 429, 'Too many wrong codes. Try again later.')
    }
    const secret = decryptTotpSecret(ctx, live.user.id, pendingTotp.secretEnc)
    const step = enrolmentStep(secret, code, ctx.clock.now())
    if (step === undefined) {
      await ctx.throttle.fail([throttle])
      return enrolForm(req, reply, live, form, 400, 'That code is not valid. Try again.')
    }
    const codes = newRecoveryCodes(ctx)
    const confirmed = await ctx.store.confirmTotp({
      userId: live.user.id,
      secretEnc: pendingTotp.secretEnc,
      step,
      now: ctx.clock.now(),
      recoveryCodeHashes: codes.map((c) =>
        recoveryCodeHash(ctx, live.user.id, normalizeRecoveryCode(c) ?? c),
      ),
      event: ctx.events.make('mfa_enrolled', {
        userId: live.user.id,
        clientId: param(form, 'client_id', 128) ?? null,
        ip: clientIp(req, ctx.config.trustProxy),
        userAgent: userAgent(req),
        data: { method: 'totp', recoveryCodes: codes.length },
      }),
    })
    if (!confirmed) return statusPage(req, reply, live, form)
    await upgrade(req, reply, live, 'totp')
    return sendPage(
      reply,
      200,
      'Two-step verification is on',
      `<h1>${escapeHtml(textsOf(reply)('Two-step verification is on'))}</h1>` +
        `<p>${escapeHtml(textsOf(reply)('Save these recovery codes somewhere safe. Each works once, if you lose your phone. They are not shown again.'))}</p>` +
        `<ul id="recovery-codes">${codes.map((c) => `<li><code>${c}</code></li>`).join('')}</ul>` +
        backLink(textsOf(reply), await returnTarget(ctx, form)),
    )
  })
}
