/**
 * Passkey sign-in on the hosted sign-in page (`/login`), next to the password form.
 *
 * | method, path | does |
 * |---|---|
 * | `POST /login/passkey/options` (tx, csrf[, username]) | 200 `{ challenge, options }`: WebAuthn request options with a sealed challenge bound to the login transaction; with a username, `allowCredentials` lists that user's passkeys (username-first), else none (discoverable credentials) |
 * | `POST /login/passkey` (tx, csrf, challenge, credential) | verifies the assertion; success: a new SSO session with `amr` `["hwk","user"]` and a 303 back to the client (RDR-10); failure: the form again, one generic message, security event |
 *
 * Nothing is written before a valid assertion: the challenge is sealed, not stored, and only its
 * use is recorded. Failures count against the source address's sign-in throttle (REL-11).
 *
 * @see https://www.w3.org/TR/webauthn-3/#sctn-verifying-assertion
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'
import { param } from '../http/form.js'
import { clientIp, userAgent } from '../http/request-info.js'
import { issueCsrfToken, verifyCsrfToken } from '../login/csrf.js'
import { sendLoginForm, type LoginFormView, type PasskeySignInView } from '../login/login-page.js'
import { LoginTransactionCodec } from '../login/login-transaction.js'
import { htmlErrors, sendMessage } from '../login/page.js'
import { loginRedirectTarget, openPendingLogin, type PendingLogin } from '../login/pending-login.js'
import { signInThrottle } from '../login/sign-in.js'
import { authorize } from '../oauth/authorize/index.js'
import { formParams } from '../oauth/authorize/query-params.js'
import { InvalidRequest } from '../oauth/errors.js'
import { PATHS } from '../oauth/paths.js'
import { startBrowserSession } from '../sessions/browser-session.js'
import { authenticationOptions, PASSKEY_AMR, verifyAssertion } from './passkey-ceremony.js'
import { relyingParty } from './relying-party.js'
import { WebAuthnChallengeCodec } from './webauthn-challenge.js'

/** The one message for every failed passkey sign-in. */
export const PASSKEY_SIGN_IN_FAILED = 'This passkey could not be used to sign in.'

/** Largest credential JSON accepted, in characters. */
export const MAX_CREDENTIAL_JSON = 32_768

/** What the sign-in page needs to offer passkeys, or undefined when the issuer has no RP ID. */
export function passkeySignInView(ctx: ServerContext): PasskeySignInView | undefined {
  if (!relyingParty(ctx.config.issuer)) return undefined
  const base = ctx.config.issuer
  return {
    options: base + PATHS.loginPasskeyOptions,
    action: base + PATHS.loginPasskey,
    script: base + PATHS.passkeysScript,
  }
}

export function passkeyLoginRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const rp = relyingParty(ctx.config.issuer)
  if (!rp) return
  const codec = new LoginTransactionCodec(ctx.config.secrets)
  const challenges = new WebAuthnChallengeCodec(ctx.config.secrets)

  app.post(PATHS.loginPasskeyOptions, async (req, reply) => {
    reply.header('cache-control', 'no-store')
    const form = formParams(req)
    if (!form) throw new InvalidRequest('the request body must be a form')
    const p = await openPendingLogin(ctx, codec, form)
    if (!p) throw new InvalidRequest('the sign-in has expired; go back to the application')
    if (!verifyCsrfToken(ctx, req, param(form, 'csrf', 128), 'login', p.tx.id)) {
      throw new InvalidRequest('the form has expired; reload the page')
    }
    const username = param(form, 'username', 256)
    // Username-first: that user's passkeys. An unknown username gets an empty list, as a user
    // without passkeys does, and the browser then offers any passkey of this site.
    const user = username ? await ctx.store.getUserByUsername(username) : undefined
    const allow = user && !user.disabled ? await ctx.store.listPasskeys(user.id) : []
    const bound = allow.length > 0 && user ? user.id : null
    const { sealed, challenge } = challenges.issue(
      'authenticate',
      p.tx.id,
      bound,
      ctx.clock.now(),
      ctx.random,
    )
    const options = await authenticationOptions(rp, allow, challenge)
    return reply
      .header('content-type', 'application/json; charset=utf-8')
      .send(JSON.stringify({ challenge: sealed, options }))
  })

  app.post(PATHS.loginPasskey, { onRequest: htmlErrors }, async (req, reply) => {
    const form = formParams(req)
    if (!form) throw new InvalidRequest('the request body must be a form')
    const p = await openPendingLogin(ctx, codec, form)
    if (!p) {
      return sendMessage(
        reply,
        400,
        'Sign-in expired',
        'This sign-in page has expired or is not valid. Go back to the application and sign in again.',
      )
    }
    const view = (error: string): LoginFormView => ({
      action: ctx.config.issuer + PATHS.login,
      clientName: p.client.name,
      tx: p.sealed,
      csrf: issueCsrfToken(ctx, req, reply, 'login', p.tx.id),
      username: '',
      error,
      redirectUri: loginRedirectTarget(p.tx, p.client),
      passkeys: passkeySignInView(ctx),
    })
    if (!verifyCsrfToken(ctx, req, param(form, 'csrf', 128), 'login', p.tx.id)) {
      return sendLoginForm(reply, 403, view('This form has expired. Please sign in again.'))
    }
    return signInWithPasskey(ctx, req, reply, p, form, view)
  })

  async function signInWithPasskey(
    ctx: ServerContext,
    req: FastifyRequest,
    reply: FastifyReply,
    p: PendingLogin,
    form: Map<string, string[]>,
    view: (error: string) => LoginFormView,
  ): Promise<FastifyReply> {
    if (!rp) throw new Error('passkey routes without a relying party')
    const ip = clientIp(req, ctx.config.trustProxy)
    const ua = userAgent(req)
    const perIp = signInThrottle(ctx, '', ip).source[1]
    await ctx.throttle.check([perIp])

    const sealed = param(form, 'challenge', 2048)
    const c = sealed ? challenges.open(sealed, 'authenticate', p.tx.id, ctx.clock.now()) : undefined
    const raw = param(form, 'credential', MAX_CREDENTIAL_JSON)
    const result = c && raw ? await verifyAssertion(ctx, rp, c, raw) : undefined
    if (!result?.ok) {
      const reason = result ? result.reason : c ? 'malformed' : 'challenge_invalid'
      const passkey = result && !result.ok ? result.passkey : undefined
      await ctx.throttle.fail([perIp])
      if (result && !result.ok && result.reason === 'counter_regression' && passkey) {
        await ctx.store.recordEvent(
          ctx.events.make('passkey_counter_regression', {
            userId: passkey.userId,
            clientId: p.client.id,
            ip,
            userAgent: ua,
            data: { passkeyId: passkey.id, stored: passkey.counter, reported: result.reported },
          }),
        )
      }
      await ctx.store.recordEvent(
        ctx.events.make('sign_in_failure', {
          userId: passkey?.userId ?? null,
          clientId: p.client.id,
          ip,
          userAgent: ua,
          data: { reason, method: 'passkey', ...(passkey ? { passkeyId: passkey.id } : {}) },
        }),
      )
      ctx.metrics.signIns.inc({ result: 'failure' })
      return sendLoginForm(reply, 400, view(PASSKEY_SIGN_IN_FAILED))
    }

    const session = await startBrowserSession(ctx, req, reply, result.user, PASSKEY_AMR)
    await ctx.store.recordEvent(
      ctx.events.make('sign_in_success', {
        userId: result.user.id,
        clientId: p.client.id,
        ip,
        userAgent: ua,
        data: { amr: PASSKEY_AMR, method: 'passkey', passkeyId: result.passkey.id },
      }),
    )
    ctx.metrics.signIns.inc({ result: 'success' })
    return authorize(ctx, req, reply, p.tx.params, session)
  }
}
