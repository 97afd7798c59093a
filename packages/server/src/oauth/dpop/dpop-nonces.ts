import type { Clock } from '../../lib/clock.js'
import { hmac } from '../../lib/crypto.js'
import { matchesAny, purposeKeys, type PurposeKeys, type Secrets } from '../../lib/secret-ring.js'

/** Seconds one nonce is handed out; it is accepted for this long and one period more. */
export const NONCE_PERIOD_SECONDS = 300

/**
 * Server-provided DPoP nonces (RFC 9449 8 and 9), stateless: a nonce is the number of a
 * 5-minute period and an HMAC of it under a key derived from the server secret. Every instance
 * that shares the secret issues and accepts the same nonces, and nothing is stored. A nonce is
 * accepted during its own period and the next, so a client that fetched one just before a period
 * ends still has at least 5 minutes to use it.
 *
 * @example
 * ```ts
 * const nonces = new DpopNonces(secret, clock)
 * reply.header('dpop-nonce', nonces.current())
 * nonces.isValid(proofNonce) // true for the current and the previous period's nonce
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-8
 */
export class DpopNonces {
  readonly #keys: PurposeKeys
  readonly #clock: Clock

  constructor(secrets: Secrets, clock: Clock) {
    this.#keys = purposeKeys(secrets, 'dpop-nonce')
    this.#clock = clock
  }

  /** The nonce of the current period. */
  current(): string {
    return this.#make(this.#keys.current, this.#period())
  }

  /** Whether `nonce` is the current or the previous period's nonce. */
  isValid(nonce: string): boolean {
    const dot = nonce.indexOf('.')
    if (dot < 1 || nonce.length > 64) return false
    const period = Number.parseInt(nonce.slice(0, dot), 36)
    const now = this.#period()
    if (period !== now && period !== now - 1) return false
    return matchesAny(this.#keys, nonce, (k) => this.#make(k, period))
  }

  #period(): number {
    return Math.floor(this.#clock.now() / (NONCE_PERIOD_SECONDS * 1000))
  }

  #make(key: Buffer, period: number): string {
    const p = period.toString(36)
    return `${p}.${hmac(key, 'dpop-nonce', p).subarray(0, 16).toString('base64url')}`
  }
}
