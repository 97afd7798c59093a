import { SIGN_UP_SETTING } from '../../accounts/account-services.js'
import type { ServerContext } from '../../context.js'
import { Conflict, NotFound } from '../../oauth/errors.js'
import type { UserRecord } from '../../store/types.js'
import { adminEvent, type Actor } from '../actor.js'

/** Sign-up setting and what `signUpDefault` reports. */
export interface SignUpSettingView {
  /** Whether clients without their own `signUp` offer sign-up. */
  enabled: boolean
  /** `admin`: set through the Admin API (kept in the store, wins over the file); `config`: the
   * configuration's `accounts.signUp`. */
  source: 'admin' | 'config'
  /** Whether mail can be sent: without it no client offers sign-up, whatever the setting. */
  mailAvailable: boolean
}

/**
 * Self-service account administration: verification and reset mails on a user's behalf, and the
 * server-wide sign-up switch. Needs the server's mail queue, so it exists where the server runs
 * (Admin API), not in the CLI.
 */
export class AccountAdmin {
  readonly #ctx: ServerContext

  constructor(ctx: ServerContext) {
    this.#ctx = ctx
  }

  async #userWithEmail(id: string): Promise<UserRecord & { email: string }> {
    const user = await this.#ctx.store.getUser(id)
    if (!user) throw new NotFound('no such user')
    if (user.email === null) throw new Conflict('the user has no email address')
    if (user.disabled) throw new Conflict('the user is disabled')
    if (!this.#ctx.mailer.available)
      throw new Conflict('no mail transport is configured (email.smtp)')
    return user as UserRecord & { email: string }
  }

  /** Queues a new verification mail; 409 when the address is verified already. */
  async resendVerification(actor: Actor, id: string): Promise<{ queued: true; email: string }> {
    const user = await this.#userWithEmail(id)
    if (user.emailVerifiedAt !== null) throw new Conflict('the email address is verified already')
    this.#ctx.accounts.queueVerification(this.#ctx, user)
    await this.#ctx.store.recordEvent(
      adminEvent(this.#ctx, actor, 'email_verification_sent', { userId: user.id }),
    )
    return { queued: true, email: user.email }
  }

  /** Queues a password reset mail to the user's address. */
  async sendPasswordReset(actor: Actor, id: string): Promise<{ queued: true; email: string }> {
    const user = await this.#userWithEmail(id)
    this.#ctx.accounts.queueReset(this.#ctx, user)
    await this.#ctx.store.recordEvent(
      adminEvent(this.#ctx, actor, 'password_reset_requested', { userId: user.id }),
    )
    return { queued: true, email: user.email }
  }

  async signUp(): Promise<SignUpSettingView> {
    const s = await this.#ctx.accounts.signUpDefault(this.#ctx)
    return { ...s, mailAvailable: this.#ctx.mailer.available }
  }

  /** Turns sign-up on or off server-wide; null returns to the configuration's setting. */
  async setSignUp(actor: Actor, enabled: boolean | null): Promise<SignUpSettingView> {
    await this.#ctx.store.putSetting(
      SIGN_UP_SETTING,
      enabled === null ? null : String(enabled),
      this.#ctx.clock.now(),
    )
    await this.#ctx.store.recordEvent(
      adminEvent(this.#ctx, actor, 'sign_up_setting_changed', {}, { enabled }),
    )
    return this.signUp()
  }
}
