/** The HTML of the self-service pages: plain forms, no script, the sign-in page's headers. */
import type { FastifyReply } from 'fastify'
import type { Translate } from '../login/i18n/locale.js'
import { continueTo } from '../login/login-page.js'
import { escapeHtml, formAction, hidden, sendPage, textsOf } from '../login/page.js'

/** The form's error, announced, with the id its fields point to (aria-describedby). */
const alert = (t: Translate, error: string | undefined): string =>
  error
    ? `<div id="form-error"><p class="alert" role="alert">${escapeHtml(t(error))}</p></div>`
    : ''

const field = (
  t: Translate,
  error: string | undefined,
  id: string,
  label: string,
  type: string,
  attrs: string,
  value = '',
): string =>
  `<label for="${id}">${escapeHtml(t(label))}</label>` +
  `<input type="${type}" id="${id}" name="${id}" value="${escapeHtml(value)}" ${attrs}` +
  `${error ? ' aria-describedby="form-error" aria-invalid="true"' : ''}>`

/** A text of the page, translated and escaped. */
/** A translated text with one value put in bold. */
const strongIn = (t: Translate, s: string, name: string, value: string): string =>
  text(t, s, { [name]: '\u0000' }).replace('\u0000', `<strong>${escapeHtml(value)}</strong>`)

const text = (t: Translate, s: string, vars?: Record<string, string>): string =>
  escapeHtml(t(s, vars))

export interface SignUpView {
  action: string
  clientName: string
  tx: string
  csrf: string
  email: string
  name: string
  error?: string
  captchaHtml: string
  signInUrl: string
  redirectUri: string | undefined
}

export function sendSignUpForm(reply: FastifyReply, status: number, v: SignUpView): FastifyReply {
  const t = textsOf(reply)
  const body =
    `<h1>${text(t, 'Create an account')}</h1><p>${continueTo(t, v.clientName)}</p>` +
    alert(t, v.error) +
    `<form method="post" action="${escapeHtml(v.action)}">` +
    hidden('tx', v.tx) +
    hidden('csrf', v.csrf) +
    field(
      t,
      v.error,
      'email',
      'Email',
      'email',
      'autocomplete="email" maxlength="254" required autofocus',
      v.email,
    ) +
    field(
      t,
      v.error,
      'name',
      'Name (optional)',
      'text',
      'autocomplete="name" maxlength="200"',
      v.name,
    ) +
    field(
      t,
      v.error,
      'password',
      'Password',
      'password',
      'autocomplete="new-password" maxlength="1024" required',
    ) +
    v.captchaHtml +
    `<button type="submit">${text(t, 'Create account')}</button></form>` +
    `<p><a href="${escapeHtml(v.signInUrl)}">${text(t, 'I have an account: sign in')}</a></p>`
  return sendPage(reply, status, 'Create an account', body, formAction(v.redirectUri))
}

export interface ForgotView {
  action: string
  csrf: string
  tx: string | undefined
  error?: string
  captchaHtml: string
}

export function sendForgotForm(reply: FastifyReply, status: number, v: ForgotView): FastifyReply {
  const t = textsOf(reply)
  const body =
    `<h1>${text(t, 'Reset your password')}</h1>` +
    `<p>${text(t, 'Enter the email address of your account. We will send you a link to choose a new password.')}</p>` +
    alert(t, v.error) +
    `<form method="post" action="${escapeHtml(v.action)}">` +
    hidden('csrf', v.csrf) +
    (v.tx === undefined ? '' : hidden('tx', v.tx)) +
    field(
      t,
      v.error,
      'email',
      'Email',
      'email',
      'autocomplete="email" maxlength="254" required autofocus',
    ) +
    v.captchaHtml +
    `<button type="submit">${text(t, 'Send the link')}</button></form>`
  return sendPage(reply, status, 'Reset your password', body, ["'self'"])
}

export interface ResetView {
  action: string
  token: string
  csrf: string
  username: string
  error?: string
}

export function sendResetForm(reply: FastifyReply, status: number, v: ResetView): FastifyReply {
  const t = textsOf(reply)
  const body =
    `<h1>${text(t, 'Choose a new password')}</h1><p>${strongIn(t, 'for {user}', 'user', v.username)}</p>` +
    alert(t, v.error) +
    `<form method="post" action="${escapeHtml(v.action)}">` +
    hidden('t', v.token) +
    hidden('csrf', v.csrf) +
    // A hidden username lets password managers file the new password under the right account.
    `<input type="hidden" name="username" value="${escapeHtml(v.username)}" autocomplete="username">` +
    field(
      t,
      v.error,
      'password',
      'New password',
      'password',
      'autocomplete="new-password" maxlength="1024" required autofocus',
    ) +
    `<button type="submit">${text(t, 'Change password')}</button></form>`
  return sendPage(reply, status, 'Choose a new password', body, ["'self'"])
}

export interface AccountView {
  username: string
  email: string | null
  emailVerified: boolean
  csrf: string
  resendAction: string
  passwordAction: string
  notice?: string
  error?: string
  /** The checked `return_to` of the application that sent the user here (the `verify-email`
   * task route), for a "Back to the application" link. */
  back?: string
  /** Hidden fields that carry `client_id` and `return_to` through the resend form. */
  carry?: string
}

export function sendAccountPage(reply: FastifyReply, status: number, v: AccountView): FastifyReply {
  const t = textsOf(reply)
  const email =
    v.email === null
      ? `<p>${text(t, 'No email address is set for your account.')}</p>`
      : `<p>${text(t, 'Email')}: <strong>${escapeHtml(v.email)}</strong> ` +
        (v.emailVerified
          ? `<span id="email-status">${text(t, '(verified)')}</span></p>`
          : `<span id="email-status">${text(t, '(not verified)')}</span></p>` +
            `<p>${text(t, 'Applications that need a verified address wait until you open the link we sent to it.')}</p>` +
            `<form method="post" action="${escapeHtml(v.resendAction)}">` +
            hidden('csrf', v.csrf) +
            (v.carry ?? '') +
            `<button type="submit">${text(t, 'Send the verification mail again')}</button></form>`)
  const body =
    `<h1>${text(t, 'Your account')}</h1><p>${strongIn(t, 'Signed in as {user}', 'user', v.username)}</p>` +
    (v.notice ? `<p role="status">${text(t, v.notice)}</p>` : '') +
    alert(t, v.error) +
    email +
    (v.back
      ? `<p><a id="back" href="${escapeHtml(v.back)}">${text(t, 'Back to the application')}</a></p>`
      : '') +
    `<h2>${text(t, 'Change your password')}</h2>` +
    `<form method="post" action="${escapeHtml(v.passwordAction)}">` +
    hidden('csrf', v.csrf) +
    `<input type="hidden" name="username" value="${escapeHtml(v.username)}" autocomplete="username">` +
    field(
      t,
      v.error,
      'current_password',
      'Current password',
      'password',
      'autocomplete="current-password" maxlength="1024" required',
    ) +
    field(
      t,
      v.error,
      'new_password',
      'New password',
      'password',
      'autocomplete="new-password" maxlength="1024" required',
    ) +
    `<button type="submit">${text(t, 'Change password')}</button></form>`
  return sendPage(reply, status, 'Your account', body, ["'self'"])
}
