import type { IdTokenClaims } from '../oauth/id-token.js'

/** An access token in the cache. Times are on the server's timeline (see ServerTime). */
export interface StoredToken {
  accessToken: string
  audience: string
  scope: string
  issuedAt: number
  expiresAt: number
}

/** What the client persists: one record, written whole, under one key. */
export interface StoredSession {
  v: 1
  refreshToken: string | null
  /** Server time (ms) at which the session ends if unused, from `refresh_token_expires_in`. */
  refreshExpiresAt: number | null
  idToken: string | null
  claims: IdTokenClaims | null
  sessionId: string | null
  tokens: Record<string, StoredToken>
  /**
   * Set, before the request leaves, while a refresh with `refreshToken` is in flight; cleared when
   * its result is stored. Found set at start-up, it means the process died or the response was
   * lost, so the server may have rotated the token: retry at once, inside the grace window
   * (SDK-02).
   */
  refreshStartedAt: number | null
  /** The cache key the interrupted refresh was for. */
  refreshKey: string | null
  /** Last measured server clock offset (ms). */
  clockOffsetMs: number
  /** Server time (ms) of the last successful sign-in or refresh (when its request left). Absent
   * in records written by older versions. */
  lastActiveAt?: number | null
  /** The server's idle timeout (ms), once learned from two deadlines (see session-times.ts). */
  idleMs?: number | null
  /** Server time (ms) of the session's absolute end, once learned (see session-times.ts). */
  absoluteEndAt?: number | null
}

export interface SignInTransaction {
  state: string
  nonce: string
  codeVerifier: string
  redirectUri: string
  returnTo: string | null
  scope: string
  createdAt: number
}

export function parseStoredSession(raw: string): StoredSession | undefined {
  try {
    const v = JSON.parse(raw) as Partial<StoredSession>
    if (v.v !== 1 || typeof v.tokens !== 'object' || v.tokens === null) return undefined
    if (v.refreshToken !== null && typeof v.refreshToken !== 'string') return undefined
    return v as StoredSession
  } catch {
    return undefined
  }
}

/** The cache key of a token: the audience, plus the scope when one was asked for. */
export function tokenKey(audience: string, scope: string | undefined): string {
  if (scope === undefined || scope.trim() === '') return audience
  return `${audience} ${[...new Set(scope.split(' ').filter((s) => s !== ''))].sort().join(' ')}`
}
