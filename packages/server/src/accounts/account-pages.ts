/** The HTML of the self-service pages: plain forms, no script, the sign-in page's headers. */
import type { FastifyReply } from 'fastify'
import { escapeHtml, formAction, hidden, sendPage } from '../login/page.js'

const alert = (error: string | undefined): string =>
  error ? `<p class="alert" role="alert">${escapeHtml(error)}</p>` : ''

const field = (id: string, label: string, type: string, attrs: string, value = ''): string =>
  `<label for="${id}">${escapeHtml(label)}</label>` +
  `<input type="${type}" id="${id}" name="${id}" value="${escapeHtml(value)}" ${attrs}>`

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
  const body =
    `<h1>Create an account</h1><p>to continue to <strong>${escapeHtml(v.clientName)}</strong></p>` +
    alert(v.error) +
    `<form method="post" action="${escapeHtml(v.action)}">` +
    hidden('tx', v.tx) +
    hidden('csrf', v.csrf) +
    field(
      'email',
      'Email',
      'email',
      'autocomplete="email" maxlength="254" required autofocus',
      v.email,
    ) +
    field('name', 'Name (optional)', 'text', 'autocomplete="name" maxlength="200"', v.name) +
    field(
      'password',
      'Password',
      'password',
      'autocomplete="new-password" maxlength="1024" required',
    ) +
    v.captchaHtml +
    `<button type="submit">Create account</button></form>` +
    `<p><a href="${escapeHtml(v.signInUrl)}">I have an account: sign in</a></p>`
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
  const body =
    `<h1>Reset your password</h1>` +
    `<p>Enter the email address of your account. We will send you a link to choose a new password.</p>` +
    alert(v.error) +
    `<form method="post" action="${escapeHtml(v.action)}">` +
    hidden('csrf', v.csrf) +
    (v.tx === undefined ? '' : hidden('tx', v.tx)) +
    field('email', 'Email', 'email', 'autocomplete="email" maxlength="254" required autofocus') +
    v.captchaHtml +
    `<button type="submit">Send the link</button></form>`
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
  const body =
    `<h1>Choose a new password</h1><p>for <strong>${escapeHtml(v.username)}</strong></p>` +
    alert(v.error) +
    `<form method="post" action="${escapeHtml(v.action)}">` +
    hidden('t', v.token) +
    hidden('csrf', v.csrf) +
    // A hidden username lets password managers file the new password under the right account.
    `<input type="hidden" name="username" value="${escapeHtml(v.username)}" autocomplete="username">` +
    field(
      'password',
      'New password',
      'password',
      'autocomplete="new-password" maxlength="1024" required autofocus',
    ) +
    `<button type="submit">Change password</button></form>`
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
  const email =
    v.email === null
      ? `<p>No email address is set for your account.</p>`
      : `<p>Email: <strong>${escapeHtml(v.email)}</strong> ` +
        (v.emailVerified
          ? `<span id="email-status">(verified)</span></p>`
          : `<span id="email-status">(not verified)</span></p>` +
            `<p>Applications that need a verified address wait until you open the link we sent to it.</p>` +
            `<form method="post" action="${escapeHtml(v.resendAction)}">` +
            hidden('csrf', v.csrf) +
            (v.carry ?? '') +
            `<button type="submit">Send the verification mail again</button></form>`)
  const body =
    `<h1>Your account</h1><p>Signed in as <strong>${escapeHtml(v.username)}</strong></p>` +
    (v.notice ? `<p role="status">${escapeHtml(v.notice)}</p>` : '') +
    alert(v.error) +
    email +
    (v.back ? `<p><a id="back" href="${escapeHtml(v.back)}">Back to the application</a></p>` : '') +
    `<h2>Change your password</h2>` +
    `<form method="post" action="${escapeHtml(v.passwordAction)}">` +
    hidden('csrf', v.csrf) +
    `<input type="hidden" name="username" value="${escapeHtml(v.username)}" autocomplete="username">` +
    field(
      'current_password',
      'Current password',
      'password',
      'autocomplete="current-password" maxlength="1024" required',
    ) +
    field(
      'new_password',
      'New password',
      'password',
      'autocomplete="new-password" maxlength="1024" required',
    ) +
    `<button type="submit">Change password</button></form>`
  return sendPage(reply, status, 'Your account', body, ["'self'"])
}
