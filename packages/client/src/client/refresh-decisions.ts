/**
 * The refresher's decisions as pure functions: no clock, no storage, no network. Times are
 * milliseconds; `server` times are on the server's timeline (see ServerTime), `device` times on
 * the device clock.
 */
import type { TesseraClientErrorCode } from '../errors.js'
import { backoffDelay, type BackoffOptions } from '../lib/backoff.js'
import type { SignedOutReason } from '../session/session-state.js'
import type { StoredToken } from '../session/stored-session.js'

/** While a refresh that may have rotated at the server is this young, retry quickly: the
 * server's grace window (30 s in Tessera) is still open. */
export const GRACE_RETRY_MS = 25_000
/** Ceiling of the retry delay inside the grace window. */
export const GRACE_RETRY_DELAY_MS = 5_000
/** The largest lead of a warming refresh ahead of staleness. */
export const MAX_WARM_LEAD_MS = 30_000

/** The skew of a token: `skewMs`, capped at half its lifetime so short tokens are still used. */
export function effectiveSkew(t: StoredToken, skewMs: number): number {
  return Math.min(skewMs, Math.max(0, (t.expiresAt - t.issuedAt) / 2))
}

/** Whether `t` can be handed out at server time `nowServer` (with `extraMs` of margin on top of
 * the skew), and has not been refused by an API. */
export function isFresh(
  t: StoredToken | undefined,
  nowServer: number,
  skewMs: number,
  rejected: ReadonlySet<string> = new Set(),
  extraMs = 0,
): t is StoredToken {
  return (
    t !== undefined &&
    !rejected.has(t.accessToken) &&
    nowServer + effectiveSkew(t, skewMs) + extraMs < t.expiresAt
  )
}

/** The warming window of a token: at most a quarter of its lifetime, at most 30 s. */
export function warmLead(t: StoredToken): { lead: number; lifetime: number } {
  const lifetime = t.expiresAt - t.issuedAt
  return { lead: Math.min(MAX_WARM_LEAD_MS, lifetime / 4), lifetime }
}

/** When the warming timer of `t` fires: before staleness by a random part of its lead. */
export function warmDelay(
  t: StoredToken,
  nowServer: number,
  skewMs: number,
  random: number,
): number {
  const { lead } = warmLead(t)
  return Math.max(0, t.expiresAt - nowServer - effectiveSkew(t, skewMs) - random * lead)
}

/** Whether a warming timer that fired should refresh: only for a token used within its last
 * lifetime, in the foreground, with a session that is not locked. */
export function shouldWarm(o: {
  hasSession: boolean
  locked: boolean
  foreground: boolean
  lastUsedAt: number | undefined
  now: number
  lifetime: number
}): boolean {
  if (!o.hasSession || o.locked || !o.foreground) return false
  return o.lastUsedAt !== undefined && o.now - o.lastUsedAt <= o.lifetime
}

/**
 * What an `invalid_grant` answer to a refresh means: past the session's end `session_expired`;
 * after a refresh that may have rotated (SDK-02) `refresh_reused`; else `session_revoked`.
 */
export function invalidGrantCode(o: {
  refreshExpiresAt: number | null
  nowServer: number
  afterInterruption: boolean
}): TesseraClientErrorCode {
  if (o.refreshExpiresAt !== null && o.nowServer >= o.refreshExpiresAt) return 'session_expired'
  return o.afterInterruption ? 'refresh_reused' : 'session_revoked'
}

/** The signed-out reason of a terminal error code. */
export function signedOutReason(code: TesseraClientErrorCode): SignedOutReason {
  switch (code) {
    case 'session_expired':
    case 'refresh_reused':
    case 'session_revoked':
      return code
    default:
      return 'login_required'
  }
}

/**
 * The delay before retrying after the `failures`-th transient failure in a row: exponential
 * backoff with jitter, at least `Retry-After`; within 5 s while a refresh that may have rotated
 * is younger than 25 s (so the retry lands in the server's grace window), unless the server said
 * when to come back.
 */
export function transientRetryDelay(o: {
  failures: number
  random: () => number
  backoff: BackoffOptions | undefined
  retryAfterSeconds: number | undefined
  refreshStartedAt: number | null | undefined
  now: number
}): number {
  let delay = backoffDelay(o.failures - 1, o.random, o.backoff)
  if (o.retryAfterSeconds !== undefined) return Math.max(delay, o.retryAfterSeconds * 1000)
  if (
    o.refreshStartedAt !== null &&
    o.refreshStartedAt !== undefined &&
    o.now - o.refreshStartedAt < GRACE_RETRY_MS
  ) {
    delay = Math.min(delay, GRACE_RETRY_DELAY_MS)
  }
  return delay
}

/**
 * Whether a refresh whose response was lost (a `network` error after the request may have
 * reached the server) is retried at once, inside the same call, with the same refresh token
 * (SDK-08, APP-02): only once, only for a `network` error, and only while the server's grace
 * window is still open for the refresh that may have rotated.
 */
export function retryLostResponse(o: {
  code: TesseraClientErrorCode
  attempt: number
  refreshStartedAt: number | null
  now: number
}): boolean {
  return (
    o.code === 'network' &&
    o.attempt === 0 &&
    o.refreshStartedAt !== null &&
    o.now - o.refreshStartedAt < GRACE_RETRY_MS
  )
}

/** Whether coming back to the foreground or online ends a backoff wait now (`rate_limited`
 * waits for the server's `Retry-After`). */
export function retryOnResume(o: {
  blockedUntil: number
  now: number
  lastCode: TesseraClientErrorCode | undefined
}): boolean {
  return o.blockedUntil > o.now && o.lastCode !== 'rate_limited'
}

/**
 * The token cache after a refresh for `key`: the new token, plus the other tokens still valid at
 * `nowServer` (none when the session was replaced by another).
 */
export function mergeTokens(
  previous: Readonly<Record<string, StoredToken>>,
  key: string,
  token: StoredToken,
  nowServer: number,
  keepOthers: boolean,
): Record<string, StoredToken> {
  const tokens: Record<string, StoredToken> = {}
  if (keepOthers) {
    for (const [k, v] of Object.entries(previous)) {
      if (v.expiresAt > nowServer && k !== key) tokens[k] = v
    }
  }
  tokens[key] = token
  return tokens
}
