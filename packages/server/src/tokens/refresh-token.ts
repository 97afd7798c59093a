import { hmac, deriveKey, safeEqual } from '../lib/crypto.js'

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
 * server secret. Nothing secret is stored: the database holds the salt and the current generation,
 * so the server can re-issue the current token (grace window) and a stolen database cannot forge one.
 */
export class RefreshTokenCodec {
  readonly #key: Buffer

  constructor(serverSecret: Buffer) {
    this.#key = deriveKey(serverSecret, 'refresh-token')
  }

  encode(sessionId: string, generation: number, salt: string): string {
    return `${REFRESH_TOKEN_PREFIX}${sessionId}.${generation}.${this.#mac(sessionId, generation, salt)}`
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

  /** Constant-time check of the MAC against the session's salt. */
  verify(parsed: ParsedRefreshToken, salt: string): boolean {
    return safeEqual(parsed.mac, this.#mac(parsed.sessionId, parsed.generation, salt))
  }

  #mac(sessionId: string, generation: number, salt: string): string {
    return hmac(this.#key, sessionId, String(generation), salt).toString('base64url')
  }
}
