/**
 * The second sign-in step (`/login/otp`): after the password of a user with an authenticator, or
 * when a request needs a second factor (mfa-policy.ts) and the browser's sign-in has none, the
 * user types a TOTP code or a recovery code. On success a new browser session starts with
 * `amr` `pwd otp mfa` and the authorization request finishes.
 *
 * The step is stateless, like the login transaction: a signed, short-lived challenge names the
 * user, the transaction and (for a step-up of an existing sign-in) the browser session, so it
 * cannot be carried to another user, request or browser sign-in.
 *
 * @example
 * // POST /login (right password, user with TOTP) -> 200 the code form
 * // POST /login/otp tx, challenge, csrf, code     -> 303 back to the client with a code
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'
import { param } from '../http/form.js'
import { clientIp, userAgent } from '../http/request-info.js'
import { hmac } from '../lib/crypto.js'
import { matchesAny, purposeKeys } from '../lib/secret-ring.js'
import {
  confirmedTotp,
  verifySecondFactor,
  withSecondFactor,
  AMR_PWD,
} from '../mfa/second-factor.js'
import { authorize } from '../oauth/authorize/index.js'
import { formParams, queryParams } from '../oauth/authorize/query-params.js'
import { InvalidRequest } from '../oauth/errors.js'
import { PATHS } from '../oauth/paths.js'
import { readBrowserSession, startBrowserSession } from '../sessions/browser-session.js'
import type { ClientRecord, UserRecord } from '../store/types.js'
import { issueCsrfToken, verifyCsrfToken } from './csrf.js'
import { LoginTransactionCodec, type LoginTransaction } from './login-transaction.js'
import { continueTo } from './login-page.js'
import {
  escapeHtml,
  formAction,
  hidden,
  htmlErrors,
  sendMessage,
  sendPage,
  textsOf,
} from './page.js'

/** Seconds the code form stays usable after the password. */
export const OTP_CHALLENGE_TTL_SECONDS = 300

interface Challenge {
  /** User id. */
  u: string
  /** Login transaction id. */
  t: string
  /** Browser session id of a step-up; null after a password. */
  b: string | null
  /** Expiry, ms. */
  e: number
}

function sealChallenge(ctx: ServerContext, c: Omit<Challenge, 'e'>): string {
  const body = Buffer.from(
    JSON.stringify({ ...c, e: ctx.clock.now() + OTP_CHALLENGE_TTL_SECONDS * 1000 }),
  ).toString('base64url')
  const key = purposeKeys(ctx.config.secrets, 'otp-challenge').current
  return `${body}.${hmac(key, 'otp-challenge', body).toString('base64url')}`
}

function openChallenge(ctx: ServerContext, sealed: string): Challenge | undefined {
  const [body = '', mac = ''] = sealed.split('.')
  const keys = purposeKeys(ctx.config.secrets, 'otp-challenge')
  if (!matchesAny(keys, mac, (k) => hmac(k, 'otp-challenge', body).toString('base64url'))) {
    return undefined
  }
  const c = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Challenge
  return ctx.clock.now() < c.e ? c : undefined
}

export interface OtpStep {
  sealedTx: string
  tx: LoginTransaction
  client: ClientRecord
  user: UserRecord
  /** The browser session being stepped up, or null after a password. */
  browserSessionId: string | null
}

/** The code form of a step. */
export function sendOtpForm(
  ctx: ServerContext,
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  s: OtpStep,
  error?: string,
): FastifyReply {
  const challenge = sealChallenge(ctx, { u: s.user.id, t: s.tx.id, b: s.browserSessionId })
  const csrf = issueCsrfToken(ctx, req, reply, 'login-otp', s.tx.id)
  const redirectUri = s.tx.params.get('redirect_uri')?.[0] ?? s.client.redirectUris[0]
  const t = textsOf(reply)
  const described = error ? ' aria-describedby="form-error" aria-invalid="true"' : ''
  const body =
    `<h1>${escapeHtml(t('Two-step verification'))}</h1><p>${continueTo(t, s.client.name)}</p>` +
    (error
      ? `<div id="form-error"><p class="alert" role="alert">${escapeHtml(t(error))}</p></div>`
      : '') +
    `<form method="post" action="${escapeHtml(ctx.config.issuer + PATHS.loginOtp)}">` +
    hidden('tx', s.sealedTx) +
    hidden('challenge', challenge) +
    hidden('csrf', csrf) +
    `<label for="code">${escapeHtml(t('Code from your authenticator app, or a recovery code'))}</label>` +
    `<input type="text" id="code" name="code" autocomplete="one-time-code" inputmode="numeric" ` +
    `autocapitalize="none" spellcheck="false" maxlength="32" required autofocus${described}>` +
    `<button type="submit">${escapeHtml(t('Verify'))}</button></form>`
  return sendPage(reply, status, 'Two-step verification', body, formAction(redirectUri))
}

export function secondFactorRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const codec = new LoginTransactionCodec(ctx.config.secrets)

  async function transaction(
    sealed: string | undefined,
  ): Promise<{ sealed: string; tx: LoginTransaction; client: ClientRecord } | undefined> {
    if (sealed === undefined) return undefined
    const tx = codec.open(sealed, ctx.clock.now())
    const clientId = tx?.params.get('client_id')?.[0]
    const client = clientId === undefined ? undefined : await ctx.store.getClient(clientId)
    return tx && client ? { sealed, tx, client } : undefined
  }

  const expired = (reply: FastifyReply): FastifyReply =>
    sendMessage(
      reply,
      400,
      'Sign-in expired',
      'This sign-in page has expired or is not valid. Go back to the application and sign in again.',
    )

  // A step-up of the browser's sign-in (authorize sends it here): the code form, no password.
  app.get(PATHS.loginOtp, { onRequest: htmlErrors }, async (req, reply) => {
    const p = await transaction(param(queryParams(req), 'tx', 16_384))
    const live = await readBrowserSession(ctx, req)
    if (!p || !live || !(await confirmedTotp(ctx, live.user.id))) return expired(reply)
    return sendOtpForm(ctx, req, reply, 200, {
      sealedTx: p.sealed,
      tx: p.tx,
      client: p.client,
      user: live.user,
      browserSessionId: live.record.id,
    })
  })

  app.post(PATHS.loginOtp, { onRequest: htmlErrors }, async (req, reply) => {
    const form = formParams(req)
    if (!form) throw new InvalidRequest('the request body must be a form')
    const p = await transaction(param(form, 'tx', 16_384))
    const sealedChallenge = param(form, 'challenge', 1024)
    let challenge: Challenge | undefined
    try {
      challenge = sealedChallenge === undefined ? undefined : openChallenge(ctx, sealedChallenge)
    } catch {
      challenge = undefined
    }
    if (!p || !challenge || challenge.t !== p.tx.id) return expired(reply)
    const user = await ctx.store.getUser(challenge.u)
    if (!user || user.disabled) return expired(reply)
    let amr = [AMR_PWD]
    if (challenge.b !== null) {
      const live = await readBrowserSession(ctx, req)
      if (!live || live.record.id !== challenge.b || live.user.id !== user.id) return expired(reply)
      amr = live.record.amr
    }
    const step: OtpStep = {
      sealedTx: p.sealed,
      tx: p.tx,
      client: p.client,
      user,
      browserSessionId: challenge.b,
    }
    if (!verifyCsrfToken(ctx, req, param(form, 'csrf', 128), 'login-otp', p.tx.id)) {
      return sendOtpForm(ctx, req, reply, 403, step, 'This form has expired. Please try again.')
    }
    const code = param(form, 'code', 64) ?? ''
    const ip = clientIp(req, ctx.config.trustProxy)
    const ua = userAgent(req)
    const r = await verifySecondFactor(ctx, user, code, {
      ip,
      userAgent: ua,
      clientId: p.client.id,
      via: 'sign_in',
    })
    if (!r.ok) {
      if (r.reason === 'throttled') {
        reply.header('retry-after', r.retryAfter)
        const minutes = Math.max(1, Math.ceil(Number(r.retryAfter) / 60))
        return sendOtpForm(
          ctx,
          req,
          reply,
          429,
          step,
          `Too many wrong codes. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
        )
      }
      return sendOtpForm(ctx, req, reply, 400, step, 'That code is not valid. Try again.')
    }
    const amrAfter = withSecondFactor(amr)
    const session = await startBrowserSession(ctx, req, reply, user, amrAfter)
    await ctx.store.recordEvent(
      ctx.events.make('sign_in_success', {
        userId: user.id,
        clientId: p.client.id,
        ip,
        userAgent: ua,
        data: { amr: amrAfter, method: r.method },
      }),
    )
    ctx.metrics.signIns.inc({ result: 'success' })
    return authorize(ctx, req, reply, p.tx.params, session)
  })
}
