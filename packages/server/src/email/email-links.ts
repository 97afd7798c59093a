/**
 * Single-use, short-lived, signed links sent by mail (email verification, password reset).
 *
 * A token is 32 random bytes and an HMAC of them and the purpose under a key derived from the
 * server secret: `<random>.<mac>`, base64url. The store keeps only the SHA-256 of the random
 * part, with the user, the address, the expiry and when it was used; a link is used by one
 * conditional update (unused, unexpired, this purpose), so a replay, an expired link or a link of
 * the other purpose is refused, and a tampered one is refused before any database read.
 */
import type { ServerContext } from '../context.js'
import { hmac, sha256b64u } from '../lib/crypto.js'
import { matchesAny, purposeKeys } from '../lib/secret-ring.js'
import type { EmailTokenPurpose, EmailTokenRecord } from '../store/types.js'

const SHAPE = /^([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{22})$/
/** The MAC of a link under one key of the ring (purpose `email-link`): the current key makes
 * links, every key of the ring checks them, so links mailed before a secret rotation still work. */
function mac(key: Buffer, purpose: EmailTokenPurpose, random: string): string {
  return hmac(key, purpose, random).subarray(0, 16).toString('base64url')
}

/** Makes and stores a link token for `userId` at `email`; returns the token (for the link only). */
export async function issueEmailToken(
  ctx: ServerContext,
  purpose: EmailTokenPurpose,
  userId: string,
  email: string,
): Promise<string> {
  const random = ctx.random.bytes(32).toString('base64url')
  const now = ctx.clock.now()
  const ttl =
    purpose === 'verify_email'
      ? ctx.config.accounts.verifyLinkTtlSeconds
      : ctx.config.accounts.resetLinkTtlSeconds
  await ctx.store.createEmailToken({
    tokenHash: sha256b64u(random),
    purpose,
    userId,
    email,
    createdAt: now,
    expiresAt: now + ttl * 1000,
    usedAt: null,
  })
  return `${random}.${mac(purposeKeys(ctx.config.secrets, 'email-link').current, purpose, random)}`
}

/** The stored hash of a well-formed token whose MAC verifies for `purpose`, else undefined. */
export function emailTokenHash(
  ctx: ServerContext,
  purpose: EmailTokenPurpose,
  token: string | undefined,
): string | undefined {
  const m = token === undefined ? null : SHAPE.exec(token)
  if (!m) return undefined
  const [, random, tag] = m as unknown as [string, string, string]
  const keys = purposeKeys(ctx.config.secrets, 'email-link')
  if (!matchesAny(keys, tag, (k) => mac(k, purpose, random))) return undefined
  return sha256b64u(random)
}

/** The link's record when it can still be used at `now` (not used, not expired), else undefined. */
export async function peekEmailToken(
  ctx: ServerContext,
  purpose: EmailTokenPurpose,
  token: string | undefined,
): Promise<EmailTokenRecord | undefined> {
  const hash = emailTokenHash(ctx, purpose, token)
  if (hash === undefined) return undefined
  const t = await ctx.store.getEmailToken(hash)
  if (!t || t.purpose !== purpose || t.usedAt !== null || t.expiresAt <= ctx.clock.now()) {
    return undefined
  }
  return t
}

/** Uses the link (once): its record, or undefined when it is tampered, used, expired or unknown. */
export async function useEmailToken(
  ctx: ServerContext,
  purpose: EmailTokenPurpose,
  token: string | undefined,
): Promise<EmailTokenRecord | undefined> {
  const hash = emailTokenHash(ctx, purpose, token)
  if (hash === undefined) return undefined
  return ctx.store.useEmailToken(hash, purpose, ctx.clock.now())
}

/** "24 hours", "30 minutes": a lifetime as the mails say it. */
export function humanDuration(seconds: number): string {
  if (seconds % 3600 === 0) {
    const h = seconds / 3600
    return `${h} hour${h === 1 ? '' : 's'}`
  }
  const m = Math.max(1, Math.round(seconds / 60))
  return `${m} minute${m === 1 ? '' : 's'}`
}
