import { peekTimes } from '../lib/jwt.js'
import type { StoredSession, StoredToken } from '../session/stored-session.js'
import type { Environment } from './environment.js'
import { isFresh } from './refresh-decisions.js'
import type { TokenSuccess } from './server.js'

/** What a cache key asks for. */
export interface KeyInfo {
  audience: string
  scope: string | undefined
}

/** The largest number of refused access tokens remembered. */
const MAX_REJECTED = 64

/**
 * The client's knowledge about access tokens beyond the stored record: which were refused by an
 * API, when each key was last asked for, and what each key stands for.
 */
export class TokenCache {
  readonly #env: Environment
  readonly #rejected = new Set<string>()
  readonly #lastUsed = new Map<string, number>()
  readonly #keyInfo = new Map<string, KeyInfo>()

  constructor(env: Environment) {
    this.#env = env
  }

  /** Whether `t` can be handed out now, `extraMs` ahead of staleness. */
  isFresh(t: StoredToken | undefined, extraMs = 0): t is StoredToken {
    return isFresh(t, this.#env.time.now(), this.#env.skewMs, this.#rejected, extraMs)
  }

  /** Marks `accessToken` as refused by an API, so the next `getToken` refreshes. */
  invalidate(accessToken: string): void {
    this.#rejected.add(accessToken)
    if (this.#rejected.size > MAX_REJECTED) {
      const first = this.#rejected.values().next().value
      if (first !== undefined) this.#rejected.delete(first)
    }
  }

  touch(key: string): void {
    this.#lastUsed.set(key, this.#env.clock.now())
  }

  lastUsed(key: string): number | undefined {
    return this.#lastUsed.get(key)
  }

  remember(key: string, info: KeyInfo): void {
    this.#keyInfo.set(key, info)
  }

  /** The audience and scope of `key`: as asked for, else as stored, else parsed from the key. */
  infoFor(key: string, session: StoredSession | null): KeyInfo {
    const known = this.#keyInfo.get(key)
    if (known) return known
    const stored = session?.tokens[key]
    if (stored)
      return {
        audience: stored.audience,
        scope: key === stored.audience ? undefined : stored.scope,
      }
    const space = key.indexOf(' ')
    return space < 0
      ? { audience: key, scope: undefined }
      : { audience: key.slice(0, space), scope: key.slice(space + 1) }
  }

  /** A new session began: refusals of the old one's tokens no longer matter. */
  forgetRejected(): void {
    this.#rejected.clear()
  }

  /** The session ended. */
  clear(): void {
    this.#rejected.clear()
    this.#lastUsed.clear()
  }

  /** The cache entry for a token response. Lifetimes count from when the request left, on the
   * server's timeline: never too long. */
  tokenFrom(r: TokenSuccess, audience: string): StoredToken {
    const issuedAt = this.#env.time.at(r.sentAt)
    const t = r.tokens
    // `expires_in` is a number or absent (checked by tokenRequest).
    const lifetime = t.expires_in ?? 0
    const exp = peekTimes(t.access_token)?.exp
    const expiresAt =
      lifetime > 0 ? issuedAt + lifetime * 1000 : exp !== undefined ? exp * 1000 : issuedAt + 60_000
    return { accessToken: t.access_token, audience, scope: t.scope ?? '', issuedAt, expiresAt }
  }

  /** The session's end (server time) from `refresh_token_expires_in`, else `previous`. */
  refreshExpiry(r: TokenSuccess, previous: number | null): number | null {
    const s = r.tokens.refresh_token_expires_in
    if (typeof s === 'number' && s >= 0) return this.#env.time.at(r.sentAt) + s * 1000
    return previous
  }
}
