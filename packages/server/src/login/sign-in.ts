/**
 * Password sign-in: the credential check and its throttling keys. Unknown usernames cost the same
 * as known ones (a password check against a dummy hash) and share the same per-account counter
 * shape, so neither timing nor throttling tells whether an account exists (REL-11).
 */
import { randomBytes } from 'node:crypto'
import type { SlowdownRule } from '../config/config.js'
import type { ThrottleEntry } from '../security/throttle.js'
import type { ServerContext } from '../context.js'
import { sha256b64u } from '../lib/crypto.js'
import type { UserRecord } from '../store/types.js'
import { hashPassword, verifyPassword } from '../users/password.js'

/** Authentication methods of a password sign-in (RFC 8176). */
export const PASSWORD_AMR = ['pwd']

export type CredentialCheck =
  | { ok: true; user: UserRecord }
  | {
      ok: false
      user: UserRecord | undefined
      reason: 'unknown_user' | 'wrong_password' | 'disabled'
    }

const dummyHashes = new WeakMap<ServerContext, Promise<string>>()

/** A hash of a random password at the configured cost, checked when the username is unknown. */
export function dummyPasswordHash(ctx: ServerContext): Promise<string> {
  let h = dummyHashes.get(ctx)
  if (!h) {
    h = hashPassword(randomBytes(24).toString('base64url'), ctx.config.passwordCost)
    dummyHashes.set(ctx, h)
  }
  return h
}

/** Checks a username and password; the password is verified whether or not the user exists. */
export async function checkCredentials(
  ctx: ServerContext,
  username: string,
  password: string,
): Promise<CredentialCheck> {
  const user = await ctx.store.getUserByUsername(username)
  const matches = await verifyPassword(
    password,
    user?.passwordHash ?? (await dummyPasswordHash(ctx)),
  )
  if (!user) return { ok: false, user, reason: 'unknown_user' }
  if (!matches) return { ok: false, user, reason: 'wrong_password' }
  if (user.disabled) return { ok: false, user, reason: 'disabled' }
  return { ok: true, user }
}

/** The failure counters of one sign-in attempt. */
export interface SignInThrottle {
  /**
   * What the source may do: its failures on this username (`signInPerAccountAndIp`) and its
   * failures on any username (`signInPerIp`). Past either, that source gets 429, even with the
   * right password: a password can be guessed, so a throttled guess must learn nothing.
   */
  source: [ThrottleEntry, ThrottleEntry]
  /**
   * The username's failures from every address (`signInPerAccount`). Past it every attempt at the
   * username waits `delayMs` before the password is checked, but is never refused: refusing would
   * let anyone who knows a username keep its owner out (DOS-02).
   */
  account: ThrottleEntry & { rule: SlowdownRule }
}

/**
 * Failure counters of a sign-in, by username (existing or not; hashed so the throttle table holds
 * no usernames) and client IP. Auth0's brute-force protection blocks the account for the offending
 * address only; the global per-account count slows down, as NIST SP 800-63B 5.2.2 allows.
 */
export function signInThrottle(ctx: ServerContext, username: string, ip: string): SignInThrottle {
  const account = sha256b64u(username.toLowerCase())
  const t = ctx.config.throttle
  return {
    source: [
      { key: `signin-account-ip:${account}:${ip}`, rule: t.signInPerAccountAndIp },
      { key: `signin-ip:${ip}`, rule: t.signInPerIp },
    ],
    account: { key: `signin-account:${account}`, rule: t.signInPerAccount },
  }
}
