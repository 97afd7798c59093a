import { safeEqual, sha256b64u } from '../lib/crypto.js'

/**
 * Client secrets are >= 32 random characters, so a fast hash is enough (unlike passwords, they
 * cannot be guessed from a dictionary) and keeps client authentication off the hot path's budget.
 */
export function hashClientSecret(secret: string): string {
  return `sha256$${sha256b64u(secret)}`
}

export function verifyClientSecret(secret: string, hash: string): boolean {
  return safeEqual(hashClientSecret(secret), hash)
}
