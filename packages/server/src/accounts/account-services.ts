/**
 * Self-service accounts: the mails (verification, password reset, password changed) and the
 * sign-up setting. Routes and the Admin API both go through here.
 */
import type { ServerContext } from '../context.js'
import { humanDuration, issueEmailToken } from '../email/email-links.js'
import type { MailTemplates } from '../email/mail-templates.js'
import type { ClientRecord, UserRecord } from '../store/types.js'
import type { CaptchaHook } from './captcha.js'

/** Where the sign-up setting the Admin API changes is kept (`settings` table). */
export const SIGN_UP_SETTING = 'accounts.signUp'

export const ACCOUNT_PATHS = {
  signUp: '/signup',
  forgotPassword: '/login/forgot',
  resetPassword: '/login/reset',
  verifyEmail: '/verify-email',
  accountPage: '/account',
  accountPassword: '/account/password',
  accountResend: '/account/verify-email',
  devMail: '/dev/mail',
} as const

export class AccountServices {
  readonly templates: MailTemplates
  readonly captcha: CaptchaHook | undefined

  constructor(templates: MailTemplates, captcha: CaptchaHook | undefined) {
    this.templates = templates
    this.captcha = captcha
  }

  /** The server-wide sign-up setting: the Admin API's when it set one, else the configuration's. */
  async signUpDefault(
    ctx: ServerContext,
  ): Promise<{ enabled: boolean; source: 'admin' | 'config' }> {
    const stored = await ctx.store.getSetting(SIGN_UP_SETTING)
    if (stored === 'true' || stored === 'false')
      return { enabled: stored === 'true', source: 'admin' }
    return { enabled: ctx.config.accounts.signUp, source: 'config' }
  }

  /** Whether the sign-in page of `client` offers sign-up: the client's own setting, else the
   * server's; never without a way to send the verification mail. */
  async signUpEnabled(ctx: ServerContext, client: ClientRecord): Promise<boolean> {
    if (!ctx.mailer.available) return false
    return client.signUp ?? (await this.signUpDefault(ctx)).enabled
  }

  #values(ctx: ServerContext, user: UserRecord) {
    return {
      product: new URL(ctx.config.issuer).host,
      name: user.name ?? user.username,
      username: user.username,
      email: user.email ?? '',
    }
  }

  /** Queues a verification mail to the user's current address (a new link each time). */
  queueVerification(ctx: ServerContext, user: UserRecord): void {
    const email = user.email
    if (email === null) return
    ctx.mailer.queue('email verification', async () => {
      const token = await issueEmailToken(ctx, 'verify_email', user.id, email)
      const link = `${ctx.config.issuer}${ACCOUNT_PATHS.verifyEmail}?t=${token}`
      return {
        to: email,
        ...this.templates.render('verify-email', {
          ...this.#values(ctx, user),
          link,
          expiresIn: humanDuration(ctx.config.accounts.verifyLinkTtlSeconds),
        }),
      }
    })
  }

  /** Queues reset mails for `address`: everything (finding the users, the links) happens in the
   * queue, after the answer, so the request costs the same whether the address is known or not.
   * `perAddress`: the address is over its mail limit, so nothing is sent. */
  queueResetByAddress(
    ctx: ServerContext,
    address: string,
    perAddress: () => Promise<boolean>,
  ): void {
    ctx.mailer.queue('password reset', async () => {
      if (!(await perAddress())) return undefined
      const users = (await ctx.store.getUsersByEmail(address)).filter((u) => !u.disabled)
      return Promise.all(users.map((u) => this.#resetMail(ctx, u)))
    })
  }

  /** Queues a reset mail to one user (Admin API). */
  queueReset(ctx: ServerContext, user: UserRecord): void {
    ctx.mailer.queue('password reset', () => this.#resetMail(ctx, user))
  }

  async #resetMail(ctx: ServerContext, user: UserRecord) {
    const email = user.email as string
    const token = await issueEmailToken(ctx, 'reset_password', user.id, email)
    await ctx.store.recordEvent(
      ctx.events.make('password_reset_requested', { userId: user.id, data: { sent: true } }),
    )
    return {
      to: email,
      ...this.templates.render('reset-password', {
        ...this.#values(ctx, user),
        link: `${ctx.config.issuer}${ACCOUNT_PATHS.resetPassword}?t=${token}`,
        expiresIn: humanDuration(ctx.config.accounts.resetLinkTtlSeconds),
      }),
    }
  }

  /** Queues the notice that the password was changed (`how`: "by a reset link", ...). */
  queuePasswordChanged(ctx: ServerContext, user: UserRecord, how: string): void {
    const email = user.email
    if (email === null) return
    ctx.mailer.queue('password changed notice', () =>
      Promise.resolve({
        to: email,
        ...this.templates.render('password-changed', { ...this.#values(ctx, user), how }),
      }),
    )
  }
}
