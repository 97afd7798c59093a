/**
 * The second factor: TOTP authenticators (RFC 6238) and single-use recovery codes, their
 * storage (the TOTP secret encrypted under a key derived from the server secret, recovery codes
 * as keyed HMACs), verification with reuse refusal and a per-account throttle, and what a
 * verified second factor means for `amr` / `acr` (RFC 8176).
 *
 * @example
 * const r = await verifySecondFactor(ctx, user, '123456', { ip, userAgent, clientId })
 * if (r.ok) await startBrowserSession(ctx, req, reply, user, withSecondFactor(['pwd']))
 *
 * @see https://www.rfc-editor.org/rfc/rfc6238#section-5.2
 * @see https://www.rfc-editor.org/rfc/rfc8176#section-2
 */
import { createCipheriv, createDecipheriv } from 'node:crypto'
import type { ServerContext } from '../context.js'
import { hmac } from '../lib/crypto.js'
import { purposeKeys } from '../lib/secret-ring.js'
import type { ThrottleEntry } from '../security/throttle.js'
import type { TotpRecord, UserRecord } from '../store/types.js'
import { totpStep, verifyTotp } from './totp.js'

/** `amr` of a password (RFC 8176). */
export const AMR_PWD = 'pwd'
/** `amr` of a one-time password (RFC 8176): TOTP or a recovery code. */
export const AMR_OTP = 'otp'
/** `amr` of a multiple-factor authentication (RFC 8176). */
export const AMR_MFA = 'mfa'

/** `acr` of a sign-in with a second factor; the `acr_values` that asks for one. */
export const ACR_MFA = 'urn:tessera:acr:mfa'
/** `acr` of a sign-in with a password alone. */
export const ACR_PWD = 'urn:tessera:acr:pwd'
/** The `acr` values this server knows (discovery's `acr_values_supported`). */
export const ACR_VALUES = [ACR_PWD, ACR_MFA] as const

/** How many recovery codes an enrolment issues. */
export const RECOVERY_CODE_COUNT = 10

/** `amr` of a passkey sign-in (RFC 8176): a hardware-bound key, unlocked by the user. */
export const AMR_PASSKEY = ['hwk', 'user'] as const

/**
 * Whether an authentication was multi-factor: a one-time code on top of the password, or a
 * passkey with user verification (something held, unlocked by something known or a biometric),
 * which is why a passkey sign-in satisfies `requireMfa` and `acr_values` without a code.
 */
export function hasSecondFactor(amr: readonly string[]): boolean {
  return amr.includes(AMR_OTP) || amr.includes(AMR_MFA) || AMR_PASSKEY.every((m) => amr.includes(m))
}

/** `amr` after a second factor was verified on top of `amr`. */
export function withSecondFactor(amr: readonly string[]): string[] {
  return [...new Set([...amr, AMR_OTP, AMR_MFA])]
}

/** The `acr` of an authentication, from its `amr`. */
export function acrOf(amr: readonly string[]): string {
  return hasSecondFactor(amr) ? ACR_MFA : ACR_PWD
}

/** AES-256-GCM with the user id as additional data, so a secret copied to another user's row
 * does not decrypt. Layout as for signing keys: iv (12) | tag (16) | ciphertext, base64url. */
export function encryptTotpSecret(ctx: ServerContext, userId: string, secret: Buffer): string {
  const iv = ctx.random.bytes(12)
  const c = createCipheriv(
    'aes-256-gcm',
    purposeKeys(ctx.config.secrets, 'totp-secrets').current,
    iv,
  )
  c.setAAD(Buffer.from(userId, 'utf8'))
  const body = Buffer.concat([c.update(secret), c.final()])
  return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url')
}

/** Opens a secret sealed under any secret of the ring (the current one first): an authenticator
 * enrolled before a rotation keeps working while its secret is in the ring. */
export function decryptTotpSecret(ctx: ServerContext, userId: string, enc: string): Buffer {
  const buf = Buffer.from(enc, 'base64url')
  let failure: unknown
  for (const key of purposeKeys(ctx.config.secrets, 'totp-secrets').all) {
    try {
      const d = createDecipheriv('aes-256-gcm', key, buf.subarray(0, 12))
      d.setAAD(Buffer.from(userId, 'utf8'))
      d.setAuthTag(buf.subarray(12, 28))
      return Buffer.concat([d.update(buf.subarray(28)), d.final()])
    } catch (err) {
      failure = err
    }
  }
  throw failure
}

const CODE_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789'

/** Ten new recovery codes, `xxxxx-xxxxx` (about 49 bits each, no look-alike characters). */
export function newRecoveryCodes(ctx: ServerContext): string[] {
  const out: string[] = []
  for (let i = 0; i < RECOVERY_CODE_COUNT; i++) {
    let s = ''
    // Rejection sampling keeps the characters uniform.
    while (s.length < 10) {
      for (const b of ctx.random.bytes(16)) {
        if (b < 248 && s.length < 10) s += CODE_ALPHABET[b % CODE_ALPHABET.length]
      }
    }
    out.push(`${s.slice(0, 5)}-${s.slice(5)}`)
  }
  return out
}

/** A recovery code as typed: case, spaces and dashes do not matter. */
export function normalizeRecoveryCode(code: string): string | undefined {
  const s = code.toLowerCase().replace(/[\s-]/g, '')
  return /^[a-z0-9]{10}$/.test(s) ? s : undefined
}

/** What is stored of a recovery code: an HMAC under a key derived from the server secret, bound
 * to the user, so a copy of the database alone cannot be brute-forced offline. */
export function recoveryCodeHash(ctx: ServerContext, userId: string, normalized: string): string {
  return recoveryCodeHashes(ctx, userId, normalized)[0] as string
}

/** The code's hash under every secret of the ring, current first: codes issued before a secret
 * rotation still work while their secret is in the ring. */
export function recoveryCodeHashes(
  ctx: ServerContext,
  userId: string,
  normalized: string,
): string[] {
  return purposeKeys(ctx.config.secrets, 'recovery-codes').all.map((k) =>
    hmac(k, 'recovery-code', userId, normalized).toString('base64url'),
  )
}

/** Spends the recovery code, whichever secret of the ring its hash was made under. */
async function useRecoveryCode(
  ctx: ServerContext,
  userId: string,
  normalized: string,
): Promise<boolean> {
  for (const hash of recoveryCodeHashes(ctx, userId, normalized)) {
    if (await ctx.store.useRecoveryCode(userId, hash, ctx.clock.now())) return true
  }
  return false
}

/** The user's confirmed authenticator, or undefined. */
export async function confirmedTotp(
  ctx: ServerContext,
  userId: string,
): Promise<TotpRecord | undefined> {
  const t = await ctx.store.getTotp(userId)
  return t && t.confirmedAt !== null ? t : undefined
}

/** The per-account counter of wrong second-factor codes (`throttle.mfaPerAccount`). */
export function mfaThrottle(ctx: ServerContext, userId: string): ThrottleEntry {
  return { key: `mfa-account:${userId}`, rule: ctx.config.throttle.mfaPerAccount }
}

export type SecondFactorResult =
  | { ok: true; method: 'totp' | 'recovery_code' }
  | { ok: false; reason: 'throttled'; retryAfter: string }
  | { ok: false; reason: 'wrong_code' | 'reused_code' | 'no_authenticator' }

/**
 * Checks a code typed at a second-factor prompt: six digits are a TOTP code (±1 step, a step at
 * or before the last one accepted is refused), anything else a recovery code (spent on use).
 * Past `throttle.mfaPerAccount` wrong codes, every code is refused unchecked until the window
 * ends. Records `mfa_success` or `mfa_failure`.
 */
export async function verifySecondFactor(
  ctx: ServerContext,
  user: UserRecord,
  input: string,
  meta: { ip: string; userAgent: string | null; clientId: string | null; via: string },
): Promise<SecondFactorResult> {
  const throttle = mfaThrottle(ctx, user.id)
  const over = await ctx.throttle.exceeded([throttle])
  const event = (ok: boolean, data: Record<string, unknown>) =>
    ctx.store.recordEvent(
      ctx.events.make(ok ? 'mfa_success' : 'mfa_failure', {
        userId: user.id,
        clientId: meta.clientId,
        ip: meta.ip,
        userAgent: meta.userAgent,
        data: { ...data, via: meta.via },
      }),
    )
  if (over) {
    const retryAfter = ctx.throttle.refusal(over).headers['retry-after'] ?? '60'
    await event(false, { reason: 'throttled' })
    return { ok: false, reason: 'throttled', retryAfter }
  }
  const totp = await confirmedTotp(ctx, user.id)
  if (!totp) return { ok: false, reason: 'no_authenticator' }
  const code = input.trim()
  let result: SecondFactorResult
  if (/^[0-9]{6}$/.test(code)) {
    const secret = decryptTotpSecret(ctx, user.id, totp.secretEnc)
    const step = verifyTotp(secret, code, ctx.clock.now())
    if (step === undefined) result = { ok: false, reason: 'wrong_code' }
    else if (!(await ctx.store.useTotpStep(user.id, step)))
      result = { ok: false, reason: 'reused_code' }
    else result = { ok: true, method: 'totp' }
  } else {
    const normalized = normalizeRecoveryCode(code)
    const used = normalized !== undefined && (await useRecoveryCode(ctx, user.id, normalized))
    result = used ? { ok: true, method: 'recovery_code' } : { ok: false, reason: 'wrong_code' }
  }
  if (result.ok) {
    await event(true, { method: result.method })
  } else {
    await ctx.throttle.fail([throttle])
    await event(false, { reason: result.reason })
  }
  return result
}

/** The step of a code confirming an enrolment, or undefined; no reuse check (nothing was
 * accepted with this secret yet). */
export function enrolmentStep(secret: Buffer, code: string, nowMs: number): number | undefined {
  return verifyTotp(secret, code.trim(), nowMs)
}

export { totpStep }
