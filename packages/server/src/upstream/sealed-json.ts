/**
 * Small JSON values sealed for the browser to carry (a cookie, a hidden field): AES-256-GCM under
 * the purpose's key of the secret ring, with the purpose as additional data, so a value sealed for
 * one purpose never opens as another, and nothing in it can be read or changed. The first secret
 * seals, every one opens (a flow started before a rotation still finishes).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { purposeKeys, type PurposeKeys, type Secrets } from '../lib/secret-ring.js'
import type { Random } from '../lib/random.js'

/** Largest sealed value accepted, in characters. */
const MAX_SEALED = 8192

export class SealedJson<T extends { e: number }> {
  readonly #keys: PurposeKeys
  readonly #aad: Buffer

  constructor(
    secrets: Secrets,
    purpose: string,
    private readonly valid: (v: unknown) => v is T,
  ) {
    this.#keys = purposeKeys(secrets, purpose)
    this.#aad = Buffer.from(purpose, 'utf8')
  }

  seal(value: T, random: Random): string {
    const iv = random.bytes(12)
    const c = createCipheriv('aes-256-gcm', this.#keys.current, iv)
    c.setAAD(this.#aad)
    const body = Buffer.concat([c.update(JSON.stringify(value), 'utf8'), c.final()])
    return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url')
  }

  /** The value, or undefined when it is malformed, forged, or expired (`e`, ms) at `now`. */
  open(sealed: string, now: number): T | undefined {
    if (sealed.length > MAX_SEALED || !/^[A-Za-z0-9_-]+$/.test(sealed)) return undefined
    const raw = Buffer.from(sealed, 'base64url')
    if (raw.length < 29) return undefined
    for (const key of this.#keys.all) {
      try {
        const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12))
        d.setAAD(this.#aad)
        d.setAuthTag(raw.subarray(12, 28))
        const text = Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8')
        const v: unknown = JSON.parse(text)
        if (!this.valid(v) || now >= v.e) return undefined
        return v
      } catch {
        // Not sealed under this key: try the next one.
      }
    }
    return undefined
  }
}
