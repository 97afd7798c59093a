import { hmac } from '../lib/crypto.js'
import { matchesAny, purposeKeys, type PurposeKeys, type Secrets } from '../lib/secret-ring.js'

/** Prefix that lets secret scanners recognise a leaked Tessera refresh token. */
export const REFRESH_TOKEN_PREFIX = 'tsr_'

export interface ParsedRefreshToken {
  sessionId: string
  generation: number
  mac: string
}

/**
 * Refresh tokens are `tsr_<session id>.<generation>.<MAC>`, where the MAC is HMAC-SHA256 (256 bits)
 * over the session id, the generation and the session's salt, keyed by a key derived from the
 * server secret (the first of the ring signs, every one verifies). Nothing secret is stored: the database holds the salt and the current generation,
 * so the server can re-issue the current token (grace window) and a stolen database cannot forge one.
 */
export class RefreshTokenCodec {
  readonly #keys: PurposeKeys

  constructor(serverSecrets: Secrets) {
    this.#keys = purposeKeys(serverSecrets, 'refresh-token')
  }

  encode(sessionId: string, generation: number, salt: string): string {
    const mac = this.#mac(this.#keys.current, sessionId, generation, salt)
    return `${REFRESH_TOKEN_PREFIX}${sessionId}.${generation}.${mac}`
  }

  /** Splits a presented token; returns undefined for anything not of the shape. */
  parse(token: string): ParsedRefreshToken | undefined {
    if (token.length > 200 || !token.startsWith(REFRESH_TOKEN_PREFIX)) return undefined
    const parts = token.slice(REFRESH_TOKEN_PREFIX.length).split('.')
    if (parts.length !== 3) return undefined
    const [sessionId, gen, mac] = parts as [string, string, string]
    if (!/^[A-Za-z0-9_-]{22}$/.test(sessionId) || !/^(0|[1-9][0-9]{0,8})$/.test(gen))
      return undefined
    if (!/^[A-Za-z0-9_-]{43}$/.test(mac)) return undefined
    return { sessionId, generation: Number(gen), mac }
  }

  /** Constant-time check of the MAC against the session's salt, under any secret of the ring (a
   * token issued before a secret rotation keeps working). */
  verify(parsed: ParsedRefreshToken, salt: string): boolean {
    return matchesAny(this.#keys, parsed.mac, (k) =>
      this.#mac(k, parsed.sessionId, parsed.generation, salt),
    )
  }

  #mac(key: Buffer, sessionId: string, generation: number, salt: string): string {
    return hmac(key, sessionId, String(generation), salt).toString('base64url')
  }
}
