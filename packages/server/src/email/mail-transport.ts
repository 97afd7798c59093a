/**
 * Where mail goes: an SMTP relay (nodemailer), or, in `tessera dev` without a relay, a memory
 * catcher shown at `/dev/mail`. Nothing else sends mail, so tests use a real SMTP server.
 */
import nodemailer, { type Transporter } from 'nodemailer'
import type { SmtpSettings } from '../config/config.js'

export interface OutgoingMail {
  from: string
  to: string
  subject: string
  text: string
  html: string
}

export interface MailTransport {
  readonly kind: 'smtp' | 'memory'
  send(mail: OutgoingMail): Promise<void>
  close(): void
}

/** SMTP through nodemailer. Its own logger is off: it would print the AUTH exchange. */
export class SmtpTransport implements MailTransport {
  readonly kind = 'smtp'
  readonly #transporter: Transporter

  constructor(s: SmtpSettings) {
    this.#transporter = nodemailer.createTransport({
      host: s.host,
      port: s.port,
      secure: s.secure,
      requireTLS: !s.secure && s.requireTls,
      ignoreTLS: !s.secure && !s.requireTls,
      ...(s.user !== null && s.pass !== null ? { auth: { user: s.user, pass: s.pass } } : {}),
      logger: false,
      debug: false,
      disableFileAccess: true,
      disableUrlAccess: true,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
    })
  }

  async send(mail: OutgoingMail): Promise<void> {
    await this.#transporter.sendMail(mail)
  }

  close(): void {
    this.#transporter.close()
  }
}

/** A mail caught in memory (dev mode). */
export interface CaughtMail extends OutgoingMail {
  id: number
  at: number
}

/** Keeps the last 50 messages in memory, for `/dev/mail`. */
export class MemoryTransport implements MailTransport {
  readonly kind = 'memory'
  readonly #mails: CaughtMail[] = []
  #next = 1

  send(mail: OutgoingMail): Promise<void> {
    this.#mails.unshift({ ...mail, id: this.#next++, at: Date.now() })
    this.#mails.length = Math.min(this.#mails.length, 50)
    return Promise.resolve()
  }

  /** Newest first. */
  list(): readonly CaughtMail[] {
    return this.#mails
  }

  close(): void {}
}

/** One line on why a send failed, without credentials (nodemailer's messages carry none, but
 * the server's answer is cut short anyway). */
export function sendFailure(err: unknown): string {
  const e = err as { code?: unknown; responseCode?: unknown; message?: unknown }
  const code = typeof e.code === 'string' ? e.code : 'error'
  const status = typeof e.responseCode === 'number' ? ` ${e.responseCode}` : ''
  return `${code}${status}`
}
