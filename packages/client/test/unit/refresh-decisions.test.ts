/**
 * The refresher's decisions as pure functions (src/client/refresh-decisions.ts): no clock, no
 * storage, no network.
 */
import { describe, expect, it } from 'vitest'
import {
  effectiveSkew,
  GRACE_RETRY_MS,
  invalidGrantCode,
  isFresh,
  mergeTokens,
  retryLostResponse,
  retryOnResume,
  shouldWarm,
  signedOutReason,
  transientRetryDelay,
  warmDelay,
  warmLead,
} from '../../src/client/refresh-decisions.js'
import { learnSessionTimes } from '../../src/client/session-times.js'
import type { StoredToken } from '../../src/session/stored-session.js'

const T0 = 1_800_000_000_000
const token = (issuedAt: number, lifetimeMs: number, accessToken = 'at'): StoredToken => ({
  accessToken,
  audience: 'https://api.example',
  scope: '',
  issuedAt,
  expiresAt: issuedAt + lifetimeMs,
})

describe('freshness', () => {
  it('the skew is 30 s for long tokens and half the lifetime for short ones', () => {
    expect(effectiveSkew(token(T0, 900_000), 30_000)).toBe(30_000)
    expect(effectiveSkew(token(T0, 40_000), 30_000)).toBe(20_000)
    expect(effectiveSkew(token(T0, -5), 30_000)).toBe(0)
  })

  it('fresh strictly before exp - skew - extra; never when refused; never without a token', () => {
    const t = token(T0, 900_000)
    expect(isFresh(t, T0 + 869_999, 30_000)).toBe(true)
    expect(isFresh(t, T0 + 870_000, 30_000)).toBe(false)
    expect(isFresh(t, T0 + 859_999, 30_000, new Set(), 10_000)).toBe(true)
    expect(isFresh(t, T0 + 860_000, 30_000, new Set(), 10_000)).toBe(false)
    expect(isFresh(t, T0, 30_000, new Set(['at']))).toBe(false)
    expect(isFresh(undefined, T0, 30_000)).toBe(false)
  })
})

describe('warming', () => {
  it('the lead is a quarter of the lifetime, at most 30 s; the timer fires that much (times random) before staleness', () => {
    expect(warmLead(token(T0, 900_000))).toEqual({ lead: 30_000, lifetime: 900_000 })
    expect(warmLead(token(T0, 40_000))).toEqual({ lead: 10_000, lifetime: 40_000 })
    const t = token(T0, 900_000)
    expect(warmDelay(t, T0, 30_000, 0)).toBe(870_000)
    expect(warmDelay(t, T0, 30_000, 0.5)).toBe(855_000)
    expect(warmDelay(t, T0 + 1_000_000, 30_000, 0.5)).toBe(0)
  })

  it('warms only a token used within its lifetime, in the foreground, with an unlocked session', () => {
    const base = {
      hasSession: true,
      locked: false,
      foreground: true,
      lastUsedAt: T0,
      now: T0 + 900_000,
      lifetime: 900_000,
    }
    expect(shouldWarm(base)).toBe(true)
    expect(shouldWarm({ ...base, now: T0 + 900_001 })).toBe(false)
    expect(shouldWarm({ ...base, lastUsedAt: undefined })).toBe(false)
    expect(shouldWarm({ ...base, foreground: false })).toBe(false)
    expect(shouldWarm({ ...base, locked: true })).toBe(false)
    expect(shouldWarm({ ...base, hasSession: false })).toBe(false)
  })
})

describe('what a refresh failure means', () => {
  it('invalid_grant: session_expired past the end, refresh_reused after an interruption, else session_revoked', () => {
    expect(invalidGrantCode({ refreshExpiresAt: T0, nowServer: T0, afterInterruption: true })).toBe(
      'session_expired',
    )
    expect(
      invalidGrantCode({ refreshExpiresAt: T0 + 1, nowServer: T0, afterInterruption: true }),
    ).toBe('refresh_reused')
    expect(
      invalidGrantCode({ refreshExpiresAt: null, nowServer: T0, afterInterruption: false }),
    ).toBe('session_revoked')
  })

  it('terminal codes map to their signed-out reason; anything else to login_required', () => {
    expect(signedOutReason('session_expired')).toBe('session_expired')
    expect(signedOutReason('refresh_reused')).toBe('refresh_reused')
    expect(signedOutReason('session_revoked')).toBe('session_revoked')
    expect(signedOutReason('login_required')).toBe('login_required')
  })
})

describe('retry delays', () => {
  const base = {
    failures: 1,
    random: () => 1,
    backoff: undefined,
    retryAfterSeconds: undefined,
    refreshStartedAt: null,
    now: T0,
  }

  it('backoff doubles from 1 s to 60 s (jitter at its ceiling here)', () => {
    expect(transientRetryDelay(base)).toBe(1000)
    expect(transientRetryDelay({ ...base, failures: 4 })).toBe(8000)
    expect(transientRetryDelay({ ...base, failures: 20 })).toBe(60_000)
  })

  it('Retry-After is a floor, and wins over the grace-window cap', () => {
    expect(transientRetryDelay({ ...base, retryAfterSeconds: 120 })).toBe(120_000)
    expect(
      transientRetryDelay({ ...base, failures: 8, retryAfterSeconds: 1, refreshStartedAt: T0 }),
    ).toBe(60_000)
  })

  it('within 5 s while a refresh that may have rotated is younger than 25 s', () => {
    expect(transientRetryDelay({ ...base, failures: 8, refreshStartedAt: T0 })).toBe(5000)
    expect(
      transientRetryDelay({ ...base, failures: 8, refreshStartedAt: T0 - GRACE_RETRY_MS }),
    ).toBe(60_000)
  })

  it('SDK-08 a lost response is retried once, for network errors only, inside the grace window', () => {
    const lost = { code: 'network' as const, attempt: 0, refreshStartedAt: T0, now: T0 + 1000 }
    expect(retryLostResponse(lost)).toBe(true)
    expect(retryLostResponse({ ...lost, attempt: 1 })).toBe(false)
    expect(retryLostResponse({ ...lost, code: 'server' })).toBe(false)
    expect(retryLostResponse({ ...lost, code: 'rate_limited' })).toBe(false)
    expect(retryLostResponse({ ...lost, refreshStartedAt: null })).toBe(false)
    expect(retryLostResponse({ ...lost, now: T0 + GRACE_RETRY_MS })).toBe(false)
  })

  it('a resume ends a backoff wait, except a rate limit', () => {
    expect(retryOnResume({ blockedUntil: T0 + 1, now: T0, lastCode: 'network' })).toBe(true)
    expect(retryOnResume({ blockedUntil: T0 + 1, now: T0, lastCode: 'rate_limited' })).toBe(false)
    expect(retryOnResume({ blockedUntil: T0, now: T0, lastCode: 'network' })).toBe(false)
  })
})

describe('the cache after a refresh', () => {
  it('keeps the other tokens still valid, replaces the refreshed key, drops all others when the session was replaced', () => {
    const old = {
      a: token(T0, 1000, 'a1'),
      b: token(T0, 100_000, 'b1'),
      c: token(T0, 100_000, 'c1'),
    }
    const fresh = token(T0 + 2000, 1000, 'c2')
    expect(mergeTokens(old, 'c', fresh, T0 + 2000, true)).toEqual({ b: old.b, c: fresh })
    expect(mergeTokens(old, 'c', fresh, T0 + 2000, false)).toEqual({ c: fresh })
  })
})

describe('session times from the server’s deadlines (learnSessionTimes)', () => {
  const M = 60_000
  const none = { at: null, deadline: null, idleMs: null, absoluteEndAt: null }

  it('a first deadline tells neither the idle timeout nor the absolute end', () => {
    expect(learnSessionTimes(none, T0, T0 + 60 * M)).toEqual({
      at: T0,
      deadline: T0 + 60 * M,
      idleMs: null,
      absoluteEndAt: null,
    })
  })

  it('a deadline that moved was the idle end; a later one nearer than the idle timeout is the absolute end', () => {
    // idle 60 min, absolute end at T0 + 120 min
    const a = learnSessionTimes(none, T0, T0 + 60 * M)
    const b = learnSessionTimes(a, T0 + 50 * M, T0 + 110 * M)
    expect(b).toMatchObject({ idleMs: 60 * M, absoluteEndAt: null })
    const c = learnSessionTimes(b, T0 + 100 * M, T0 + 120 * M)
    expect(c).toMatchObject({ idleMs: 60 * M, absoluteEndAt: T0 + 120 * M })
  })

  it('a deadline that did not move although the session was used is the absolute end', () => {
    const a = learnSessionTimes(none, T0, T0 + 30 * M)
    expect(learnSessionTimes(a, T0 + 10 * M, T0 + 30 * M + 1000).absoluteEndAt).toBe(
      T0 + 30 * M + 1000,
    )
  })

  it('nothing is learned from two deadlines within the tolerance, nor without a deadline; a learned end stays', () => {
    const a = learnSessionTimes(none, T0, T0 + 30 * M)
    expect(learnSessionTimes(a, T0 + 1000, T0 + 30 * M)).toMatchObject({ absoluteEndAt: null })
    expect(learnSessionTimes(a, T0 + 10 * M, null)).toMatchObject({
      idleMs: null,
      absoluteEndAt: null,
    })
    const known = { ...a, absoluteEndAt: T0 + 30 * M }
    expect(learnSessionTimes(known, T0 + 20 * M, T0 + 25 * M).absoluteEndAt).toBe(T0 + 30 * M)
  })
})
