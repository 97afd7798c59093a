import { deriveKey, safeEqual } from './crypto.js'

/**
 * The server secrets as a key ring, newest first: the first signs and encrypts, every one
 * verifies and decrypts, so a secret can be rotated without ending a session. Each purpose gets
 * its own key per secret (`deriveKey`), never the raw secret.
 */
export type Secrets = Buffer | readonly Buffer[]

/** The keys of one purpose: `current` (from the first secret) makes new values; `all` (current
 * first, then one per older secret) checks and opens what any of them made. */
export interface PurposeKeys {
  readonly current: Buffer
  readonly all: readonly Buffer[]
}

const derived = new WeakMap<object, Map<string, PurposeKeys>>()

/**
 * The keys of `purpose` for a secret or a ring of secrets (newest first). Derived once per ring
 * and purpose.
 *
 * @example
 * ```ts
 * const keys = purposeKeys(config.secrets, 'csrf')
 * const token = hmac(keys.current, value)
 * const ok = keys.all.some((k) => safeEqual(token, hmac(k, value)))
 * ```
 */
export function purposeKeys(secrets: Secrets, purpose: string): PurposeKeys {
  const list: readonly Buffer[] = Buffer.isBuffer(secrets) ? [secrets] : secrets
  const first = list[0]
  if (first === undefined) throw new Error('no server secret')
  let byPurpose = derived.get(secrets)
  if (!byPurpose) {
    byPurpose = new Map()
    derived.set(secrets, byPurpose)
  }
  let keys = byPurpose.get(purpose)
  if (!keys) {
    const all = list.map((s) => deriveKey(s, purpose))
    keys = { current: all[0] as Buffer, all }
    byPurpose.set(purpose, keys)
  }
  return keys
}

/** Whether `presented` equals `make(key)` for any key of the ring, each compared in constant
 * time; the current key is tried first (the common case costs one MAC). */
export function matchesAny(
  keys: PurposeKeys,
  presented: string,
  make: (key: Buffer) => string,
): boolean {
  for (const k of keys.all) if (safeEqual(presented, make(k))) return true
  return false
}
