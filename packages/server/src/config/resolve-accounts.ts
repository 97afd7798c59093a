import { statSync } from 'node:fs'
import {
  ConfigError,
  type AccountSettings,
  type EmailSettings,
  type SmtpSettings,
} from './config.js'

/** `email` as written in the configuration file. */
export interface EmailInput {
  smtp?: Partial<SmtpSettings>
  from?: string
  templatesDir?: string
}

/** `accounts` as written in the configuration file. */
export type AccountsInput = Partial<AccountSettings>

const HOST = /^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:.]+\]$/
/** One address, optionally with a display name; no line breaks (header injection). */
const FROM = /^(?:[^\r\n<>"]{0,100} ?<[^\s<>@"]+@[^\s<>@"]+>|[^\s<>@"]+@[^\s<>@"]+)$/

function object(setting: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new ConfigError(setting, 'must be an object')
  }
  return v as Record<string, unknown>
}

function only(setting: string, o: Record<string, unknown>, keys: string[]): void {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) throw new ConfigError(`${setting}.${k}`, 'is not a known setting')
  }
}

function bool(setting: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback
  if (typeof v !== 'boolean') throw new ConfigError(setting, 'must be true or false')
  return v
}

function whole(setting: string, v: unknown, fallback: number, min: number, max: number): number {
  const n = v ?? fallback
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(setting, `must be a whole number from ${min} to ${max}`)
  }
  return n
}

/** Validates `email`: the SMTP relay, the sender and the template directory. */
export function resolveEmail(input: unknown): EmailSettings {
  if (input === undefined)
    return { smtp: null, from: 'Tessera <no-reply@localhost>', templatesDir: null }
  const e = object('email', input)
  only('email', e, ['smtp', 'from', 'templatesDir'])
  let templatesDir: string | null = null
  if (e.templatesDir !== undefined) {
    if (typeof e.templatesDir !== 'string' || e.templatesDir === '') {
      throw new ConfigError('email.templatesDir', 'must be a directory path')
    }
    let dir = false
    try {
      dir = statSync(e.templatesDir).isDirectory()
    } catch {
      dir = false
    }
    if (!dir) throw new ConfigError('email.templatesDir', 'is not a directory')
    templatesDir = e.templatesDir
  }
  const smtp = e.smtp === undefined ? null : resolveSmtp(object('email.smtp', e.smtp))
  if (e.from === undefined && smtp !== null) {
    throw new ConfigError('email.from', 'is required with email.smtp')
  }
  const from = e.from ?? 'Tessera <no-reply@localhost>'
  if (typeof from !== 'string' || !FROM.test(from)) {
    throw new ConfigError('email.from', 'must be an address, or "Name <address>", on one line')
  }
  return { smtp, from, templatesDir }
}

function resolveSmtp(s: Record<string, unknown>): SmtpSettings {
  only('email.smtp', s, ['host', 'port', 'secure', 'requireTls', 'user', 'pass'])
  if (typeof s.host !== 'string' || !HOST.test(s.host)) {
    throw new ConfigError('email.smtp.host', 'must be a host name or IP address')
  }
  const secure = bool('email.smtp.secure', s.secure, s.port === 465)
  const port = whole('email.smtp.port', s.port, secure ? 465 : 587, 1, 65535)
  const requireTls = bool('email.smtp.requireTls', s.requireTls, true)
  const user = s.user ?? null
  const pass = s.pass ?? null
  if (user !== null && (typeof user !== 'string' || user === '' || user.length > 256)) {
    throw new ConfigError('email.smtp.user', 'must be 1 to 256 characters')
  }
  // The value is never echoed: it is a secret.
  if (pass !== null && (typeof pass !== 'string' || pass === '' || pass.length > 1024)) {
    throw new ConfigError('email.smtp.pass', 'must be 1 to 1024 characters')
  }
  if ((user === null) !== (pass === null)) {
    throw new ConfigError(
      user === null ? 'email.smtp.user' : 'email.smtp.pass',
      'is required with the other of email.smtp.user and email.smtp.pass',
    )
  }
  return { host: s.host, port, secure, requireTls, user, pass }
}

/** Validates `accounts`: sign-up, the password length, the link lifetimes. */
export function resolveAccounts(input: unknown): AccountSettings {
  const a = input === undefined ? {} : object('accounts', input)
  only('accounts', a, [
    'signUp',
    'requireVerifiedEmail',
    'passwordMinLength',
    'verifyLinkTtlSeconds',
    'resetLinkTtlSeconds',
  ])
  return {
    signUp: bool('accounts.signUp', a.signUp, false),
    requireVerifiedEmail: bool('accounts.requireVerifiedEmail', a.requireVerifiedEmail, false),
    passwordMinLength: whole('accounts.passwordMinLength', a.passwordMinLength, 8, 8, 64),
    verifyLinkTtlSeconds: whole(
      'accounts.verifyLinkTtlSeconds',
      a.verifyLinkTtlSeconds,
      86_400,
      300,
      7 * 86_400,
    ),
    resetLinkTtlSeconds: whole(
      'accounts.resetLinkTtlSeconds',
      a.resetLinkTtlSeconds,
      1800,
      60,
      86_400,
    ),
  }
}

/** A client's `signUp`: true, false or absent (the server-wide setting). */
export function resolveClientSignUp(v: unknown, at: string): { signUp?: boolean } {
  if (v === undefined) return {}
  if (typeof v !== 'boolean') throw new ConfigError(`${at}.signUp`, 'must be true or false')
  return { signUp: v }
}

/** A client's `requireVerifiedEmail`: true, false or absent (the server-wide setting). */
export function resolveClientRequireVerifiedEmail(
  v: unknown,
  at: string,
): { requireVerifiedEmail?: boolean } {
  if (v === undefined) return {}
  if (typeof v !== 'boolean') {
    throw new ConfigError(`${at}.requireVerifiedEmail`, 'must be true or false')
  }
  return { requireVerifiedEmail: v }
}
