/**
 * The hosted passkeys page of the account area: the user signed in to this browser (the SSO
 * cookie) lists, adds and removes their passkeys. Adding needs a sign-in at most
 * `account.maxAuthAgeSeconds` old and user verification; every change records a security event.
 *
 * | method, path | does |
 * |---|---|
 * | `GET /passkeys` | the page: the user's passkeys, "Add a passkey", a remove button each |
 * | `GET /passkeys/passkeys.js` | the script of this page and of the sign-in page (the only script the pages' CSP allows) |
 * | `POST /passkeys/register/options` (csrf) | 200 `{ challenge, options }`: creation options (discoverable credential, user verification required, the user's passkeys excluded), a sealed challenge bound to the browser session |
 * | `POST /passkeys/register` (csrf, challenge, credential, name) | verifies the attestation, stores the passkey, 303 to the page |
 * | `POST /passkeys/remove` (csrf, id) | removes one of the user's passkeys, 303 to the page |
 *
 * @see https://www.w3.org/TR/webauthn-3/#sctn-registering-a-new-credential
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'
import { param } from '../http/form.js'
import { clientIp, userAgent } from '../http/request-info.js'
import { issueCsrfToken, verifyCsrfToken } from '../login/csrf.js'
import { escapeHtml, hidden, htmlErrors, sendMessage, sendPage, textsOf } from '../login/page.js'
import { formParams } from '../oauth/authorize/query-params.js'
import { InvalidRequest, LoginRequired } from '../oauth/errors.js'
import { PATHS } from '../oauth/paths.js'
import { readBrowserSession, type ActiveBrowserSession } from '../sessions/browser-session.js'
import type { PasskeyRecord } from '../store/types.js'
import { PASSKEY_NAME_MAX, registrationOptions, verifyRegistration } from './passkey-ceremony.js'
import { MAX_CREDENTIAL_JSON } from './passkey-login-routes.js'
import { PASSKEYS_SCRIPT } from './passkeys-script.js'
import { relyingParty } from './relying-party.js'
import { WebAuthnChallengeCodec } from './webauthn-challenge.js'

export function passkeyPageRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const rp = relyingParty(ctx.config.issuer)
  if (!rp) return
  const challenges = new WebAuthnChallengeCodec(ctx.config.secrets)
  const base = ctx.config.issuer
  const self = base + PATHS.passkeys

  app.get(PATHS.passkeysScript, (_req, reply) =>
    reply
      .header('content-type', 'text/javascript; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .send(PASSKEYS_SCRIPT),
  )

  /** Recent enough to add an authenticator (ASVS 5.0 6.4: re-authenticate first). */
  const recent = (s: ActiveBrowserSession): boolean =>
    ctx.clock.now() - s.record.authTime <= ctx.config.account.maxAuthAgeSeconds * 1000

  function signInFirst(reply: FastifyReply): FastifyReply {
    return sendMessage(
      reply,
      401,
      'Sign in required',
      'Sign in to an application with your account in this browser, then open this page again.',
    )
  }

  async function page(
    req: FastifyRequest,
    reply: FastifyReply,
    s: ActiveBrowserSession,
    status = 200,
    error?: string,
  ): Promise<FastifyReply> {
    const csrf = issueCsrfToken(ctx, req, reply, 'passkeys', s.record.id)
    const list = await ctx.store.listPasskeys(s.user.id)
    const rows = list.map((p) => row(p, csrf)).join('')
    const t = textsOf(reply)
    const signedInAs = escapeHtml(t('Signed in as {user}', { user: '\u0000' })).replace(
      '\u0000',
      `<strong>${escapeHtml(s.user.username)}</strong>`,
    )
    const body =
      `<h1>${escapeHtml(t('Passkeys'))}</h1><p>${signedInAs}</p>` +
      (error ? `<p class="alert" role="alert">${escapeHtml(t(error))}</p>` : '') +
      (list.length === 0
        ? `<p id="no-passkeys">${escapeHtml(t('You have no passkeys yet.'))}</p>`
        : `<table id="passkeys">${rows}</table>`) +
      (recent(s)
        ? `<form id="passkey-register" method="post" action="${escapeHtml(base + PATHS.passkeyRegister)}" ` +
          `data-options="${escapeHtml(base + PATHS.passkeyRegisterOptions)}" hidden>` +
          hidden('csrf', csrf) +
          hidden('challenge', '') +
          hidden('credential', '') +
          `<label for="passkey-name">${escapeHtml(t('Name of the new passkey'))}</label>` +
          `<input type="text" id="passkey-name" name="name" value="Passkey" maxlength="${PASSKEY_NAME_MAX}" required>` +
          `<p class="alert passkey-error" role="alert" hidden></p>` +
          `<button type="button" class="passkey-button">${escapeHtml(t('Add a passkey'))}</button></form>`
        : `<p>${escapeHtml(t('To add a passkey, sign in again (a recent sign-in is needed).'))}</p>`)
    return sendPage(reply, status, 'Passkeys', body, ["'self'"], base + PATHS.passkeysScript)
  }

  function row(p: PasskeyRecord, csrf: string): string {
    const used = p.lastUsedAt === null ? 'never used' : `last used ${iso(p.lastUsedAt)}`
    return (
      `<tr><td><strong>${escapeHtml(p.name)}</strong><br><small>added ${iso(p.createdAt)}, ${used}` +
      `${p.backupEligible ? ', synced' : ''}</small></td><td>` +
      `<form method="post" action="${escapeHtml(base + PATHS.passkeyRemove)}">` +
      hidden('csrf', csrf) +
      hidden('id', p.id) +
      `<button type="submit">Remove</button></form></td></tr>`
    )
  }

  app.get(PATHS.passkeys, { onRequest: htmlErrors }, async (req, reply) => {
    const s = await readBrowserSession(ctx, req)
    if (!s) return signInFirst(reply)
    return page(req, reply, s)
  })

  app.post(PATHS.passkeyRegisterOptions, async (req, reply) => {
    reply.header('cache-control', 'no-store')
    const form = formParams(req)
    if (!form) throw new InvalidRequest('the request body must be a form')
    const s = await readBrowserSession(ctx, req)
    if (!s) throw new LoginRequired('sign in first')
    if (!verifyCsrfToken(ctx, req, param(form, 'csrf', 128), 'passkeys', s.record.id)) {
      throw new InvalidRequest('the form has expired; reload the page')
    }
    if (!recent(s)) throw new LoginRequired('sign in again to add a passkey')
    const { sealed, challenge } = challenges.issue(
      'register',
      s.record.id,
      s.user.id,
      ctx.clock.now(),
      ctx.random,
    )
    const options = await registrationOptions(
      rp,
      s.user,
      await ctx.store.listPasskeys(s.user.id),
      challenge,
    )
    return reply
      .header('content-type', 'application/json; charset=utf-8')
      .send(JSON.stringify({ challenge: sealed, options }))
  })

  app.post(PATHS.passkeyRegister, { onRequest: htmlErrors }, async (req, reply) => {
    const form = formParams(req)
    if (!form) throw new InvalidRequest('the request body must be a form')
    const s = await readBrowserSession(ctx, req)
    if (!s) return signInFirst(reply)
    if (!verifyCsrfToken(ctx, req, param(form, 'csrf', 128), 'passkeys', s.record.id)) {
      return page(req, reply, s, 403, 'This form has expired. Please try again.')
    }
    if (!recent(s)) return page(req, reply, s, 401, 'Sign in again to add a passkey.')
    const name = (param(form, 'name', 256) ?? '').trim()
    if (name === '' || name.length > PASSKEY_NAME_MAX) {
      return page(
        req,
        reply,
        s,
        400,
        `Give the passkey a name of 1 to ${PASSKEY_NAME_MAX} characters.`,
      )
    }
    const sealed = param(form, 'challenge', 2048)
    const c = sealed ? challenges.open(sealed, 'register', s.record.id, ctx.clock.now()) : undefined
    const raw = param(form, 'credential', MAX_CREDENTIAL_JSON)
    if (!c || c.userId !== s.user.id || !raw) {
      return page(req, reply, s, 400, 'The passkey could not be added. Please try again.')
    }
    const result = await verifyRegistration(ctx, rp, c, s.user.id, raw, name)
    if (!result.ok) {
      req.log.info({ reason: result.reason }, 'passkey registration refused')
      return page(req, reply, s, 400, 'The passkey could not be added. Please try again.')
    }
    const created = await ctx.store.createPasskey(
      result.passkey,
      ctx.events.make('passkey_registered', {
        userId: s.user.id,
        ip: clientIp(req, ctx.config.trustProxy),
        userAgent: userAgent(req),
        data: { passkeyId: result.passkey.id, name, via: 'account_page' },
      }),
    )
    if (!created) return page(req, reply, s, 409, 'This passkey is already registered.')
    return reply.code(303).header('cache-control', 'no-store').header('location', self).send()
  })

  app.post(PATHS.passkeyRemove, { onRequest: htmlErrors }, async (req, reply) => {
    const form = formParams(req)
    if (!form) throw new InvalidRequest('the request body must be a form')
    const s = await readBrowserSession(ctx, req)
    if (!s) return signInFirst(reply)
    if (!verifyCsrfToken(ctx, req, param(form, 'csrf', 128), 'passkeys', s.record.id)) {
      return page(req, reply, s, 403, 'This form has expired. Please try again.')
    }
    const id = param(form, 'id', 1400) ?? ''
    await ctx.store.deletePasskey(
      s.user.id,
      id,
      ctx.events.make('passkey_removed', {
        userId: s.user.id,
        ip: clientIp(req, ctx.config.trustProxy),
        userAgent: userAgent(req),
        data: { passkeyId: id, via: 'account_page' },
      }),
    )
    return reply.code(303).header('cache-control', 'no-store').header('location', self).send()
  })
}

const iso = (ms: number): string => new Date(ms).toISOString().slice(0, 16).replace('T', ' ')
