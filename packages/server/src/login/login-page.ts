import type { FastifyReply } from 'fastify'
import type { Translate } from './i18n/locale.js'
import { escapeHtml, formAction, hidden, sendPage, textsOf } from './page.js'

export interface LoginFormView {
  /** Where the form posts: the issuer's sign-in URL. */
  action: string
  clientName: string
  /** The sealed login transaction. */
  tx: string
  csrf: string
  username: string
  error?: string
  /** Where the sign-in's answer redirects: the client's redirect URI of this request. */
  redirectUri: string | undefined
  /** Links to the self-service pages, when they are available (sign-up, password reset). */
  links?: { signUp?: string; forgotPassword?: string }
  /** The passkey sign-in (absolute URLs), when the server has a WebAuthn relying party. */
  passkeys?: PasskeySignInView | undefined
  /** "Sign in with ..." links, one per upstream provider (absolute URLs carrying the sign-in). */
  upstream?: { name: string; href: string }[]
}

export interface PasskeySignInView {
  /** Where the page's script asks for WebAuthn options. */
  options: string
  /** Where the passkey form posts the assertion. */
  action: string
  /** The script that runs the ceremony. */
  script: string
}

/** The sign-in form: a plain HTML form that works without JavaScript; with passkeys, a second form
 * that the passkey script shows and submits (hidden without it). */
export function sendLoginForm(reply: FastifyReply, status: number, v: LoginFormView): FastifyReply {
  const t = textsOf(reply)
  const focusUser = v.username === '' ? ' autofocus' : ''
  const focusPassword = v.username === '' ? '' : ' autofocus'
  // The error is announced (role="alert") and tied to the fields it is about.
  const described = v.error ? ' aria-describedby="form-error" aria-invalid="true"' : ''
  const body =
    `<h1>${escapeHtml(t('Sign in'))}</h1>` +
    `<p>${continueTo(t, v.clientName)}</p>` +
    (v.error
      ? `<div id="form-error"><p class="alert" role="alert">${escapeHtml(t(v.error))}</p></div>`
      : '') +
    `<form method="post" action="${escapeHtml(v.action)}">` +
    hidden('tx', v.tx) +
    hidden('csrf', v.csrf) +
    `<label for="username">${escapeHtml(t('Username'))}</label>` +
    `<input type="text" id="username" name="username" value="${escapeHtml(v.username)}"${described} ` +
    `autocomplete="username" autocapitalize="none" spellcheck="false" maxlength="256" required${focusUser}>` +
    `<label for="password">${escapeHtml(t('Password'))}</label>` +
    `<input type="password" id="password" name="password" autocomplete="current-password"${described} ` +
    `maxlength="1024" required${focusPassword}>` +
    `<button type="submit">${escapeHtml(t('Sign in'))}</button></form>` +
    (v.links?.forgotPassword
      ? `<p><a href="${escapeHtml(v.links.forgotPassword)}">${escapeHtml(t('Forgot your password?'))}</a></p>`
      : '') +
    (v.links?.signUp
      ? `<p><a href="${escapeHtml(v.links.signUp)}">${escapeHtml(t('Create an account'))}</a></p>`
      : '') +
    (v.passkeys ? passkeyForm(t, v, v.passkeys) : '') +
    upstreamLinks(t, v.upstream ?? [])
  return sendPage(reply, status, 'Sign in', body, formAction(v.redirectUri), v.passkeys?.script)
}

/** "Sign in with a passkey": discoverable, or username-first when the username field is filled. */
function passkeyForm(t: Translate, v: LoginFormView, p: PasskeySignInView): string {
  return (
    `<form id="passkey-sign-in" method="post" action="${escapeHtml(p.action)}" ` +
    `data-options="${escapeHtml(p.options)}" hidden>` +
    hidden('tx', v.tx) +
    hidden('csrf', v.csrf) +
    hidden('challenge', '') +
    hidden('credential', '') +
    `<p class="or">${escapeHtml(t('or'))}</p>` +
    `<p class="alert passkey-error" role="alert" hidden></p>` +
    `<button type="button" class="passkey-button">${escapeHtml(t('Sign in with a passkey'))}</button></form>`
  )
}

/** "to continue to <strong>client</strong>", in the page's language. */
export function continueTo(t: Translate, clientName: string): string {
  return escapeHtml(t('to continue to {client}', { client: '\u0000' })).replace(
    '\u0000',
    `<strong>${escapeHtml(clientName)}</strong>`,
  )
}

/** One link per upstream provider: a plain navigation, so the page's `form-action` need not name
 * the providers, and the redirect to one carries no form. */
function upstreamLinks(t: Translate, list: { name: string; href: string }[]): string {
  if (list.length === 0) return ''
  return (
    `<p class="or">${escapeHtml(t('or'))}</p>` +
    list
      .map(
        (u) =>
          `<a class="upstream" href="${escapeHtml(u.href)}">${escapeHtml(t('Sign in with {name}', { name: u.name }))}</a>`,
      )
      .join('')
  )
}
