/**
 * TOTP (RFC 6238) over HOTP (RFC 4226): HMAC-SHA1, 6 digits, 30-second steps, the parameters every
 * authenticator app supports. Verification accepts the current step and one on either side (a
 * clock skew and the time it takes to type, RFC 6238 5.2) and says which step matched, so the
 * caller can refuse a second use of it or an earlier one.
 *
 * @example
 * const secret = newTotpSecret(ctx.random)          // 20 bytes
 * const uri = otpauthUri({ issuer: 'Tessera', account: 'ada', secret })
 * const step = verifyTotp(secret, '123456', now)     // the matched step, or undefined
 *
 * @see https://www.rfc-editor.org/rfc/rfc6238
 * @see https://github.com/google/google-authenticator/wiki/Key-Uri-Format
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { Random } from '../lib/random.js'

/** Seconds per time step (RFC 6238 X). */
export const TOTP_PERIOD_SECONDS = 30
/** Digits of a code. */
export const TOTP_DIGITS = 6
/** Steps accepted before and after the current one. */
export const TOTP_WINDOW = 1
/** Bytes of a new secret: 160 bits, the HMAC-SHA1 block recommendation of RFC 4226 4. */
export const TOTP_SECRET_BYTES = 20

export function newTotpSecret(random: Random): Buffer {
  return random.bytes(TOTP_SECRET_BYTES)
}

/** The time step of a moment (ms since the epoch). */
export function totpStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS)
}

/** The code of one time step (RFC 4226 5.3 dynamic truncation). */
export function totpCode(secret: Buffer, step: number): string {
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(step))
  const mac = createHmac('sha1', secret).update(counter).digest()
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f
  const bin = mac.readUInt32BE(offset) & 0x7fffffff
  return String(bin % 10 ** TOTP_DIGITS).padStart(TOTP_DIGITS, '0')
}

/** The step within ±TOTP_WINDOW of `nowMs` whose code is `code`, or undefined. Every step is
 * computed and compared in constant time, whatever matches. */
export function verifyTotp(secret: Buffer, code: string, nowMs: number): number | undefined {
  if (!/^[0-9]{6}$/.test(code)) return undefined
  const current = totpStep(nowMs)
  let matched: number | undefined
  for (let d = -TOTP_WINDOW; d <= TOTP_WINDOW; d++) {
    const expected = Buffer.from(totpCode(secret, current + d))
    if (timingSafeEqual(expected, Buffer.from(code)) && matched === undefined) matched = current + d
  }
  return matched
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** RFC 4648 base32 without padding, as authenticator apps take secrets. */
export function base32(bytes: Buffer): string {
  let bits = 0
  let value = 0
  let out = ''
  for (const b of bytes) {
    value = (value << 8) | b
    bits += 8
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31]
  return out
}

/** The `otpauth://totp/` URI of the Key URI Format, which authenticator apps scan as a QR code. */
export function otpauthUri(o: { issuer: string; account: string; secret: Buffer }): string {
  const label = `${encodeURIComponent(o.issuer)}:${encodeURIComponent(o.account)}`
  const q = new URLSearchParams({
    secret: base32(o.secret),
    issuer: o.issuer,
    algorithm: 'SHA1',
    digits: String(TOTP_DIGITS),
    period: String(TOTP_PERIOD_SECONDS),
  })
  return `otpauth://totp/${label}?${q.toString()}`
}
