import { sha256b64u } from '../../lib/crypto.js'
import { randomId, type Random } from '../../lib/random.js'

/** Prefix of the admin keys Tessera makes, so secret scanners can recognise a leaked one. */
export const ADMIN_KEY_PREFIX = 'tsa_'

/**
 * The stored form of an admin key: `sha256$` + base64url SHA-256. A key is 256 random bits (or,
 * from `TESSERA_ADMIN_API_KEY`, at least 32 characters chosen by the operator), so a fast hash
 * cannot be reversed by guessing, and checking it costs nothing per request.
 */
export function hashAdminKey(key: string): string {
  return `sha256$${sha256b64u(key)}`
}

/** A new admin key: `tsa_` + 256 bits from the CSPRNG, base64url. */
export function generateAdminKey(random: Random): string {
  return ADMIN_KEY_PREFIX + randomId(random, 32)
}

/** What an Authorization header can carry (printable ASCII, no space), 32 to 512 characters: a key
 * outside this could be configured but never presented. */
export const ADMIN_KEY_SHAPE = /^[\x21-\x7e]{32,512}$/
