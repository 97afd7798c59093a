import type { SessionEndReason, SessionRecord, SessionState } from '../store/types.js'

export type SessionVerdict =
  | { live: true }
  | {
      live: false
      state: Exclude<SessionState, 'active' | 'pending'>
      reason: SessionEndReason | null
      /** Whether the stored state is still active and should be brought up to date. */
      persist: boolean
      /** When the session ended: the moment its lifetime ran out, not when we noticed. */
      at: number
    }

/**
 * Decides from the one clock whether a session is still live. A session past its absolute
 * lifetime is `expired`; one unused longer than its idle timeout is `abandoned`; when both have
 * run out, whichever ran out first names the state.
 */
export function judgeSession(s: SessionRecord, now: number): SessionVerdict {
  if (s.state !== 'active' && s.state !== 'pending') {
    return { live: false, state: s.state, reason: s.reason, persist: false, at: s.endedAt ?? now }
  }
  const idleEnd = s.lastActiveAt + s.idleSeconds * 1000
  if (now >= s.expiresAt && s.expiresAt <= idleEnd) {
    return {
      live: false,
      state: 'expired',
      reason: 'absolute_lifetime',
      persist: true,
      at: s.expiresAt,
    }
  }
  if (now >= idleEnd) {
    return { live: false, state: 'abandoned', reason: 'idle_timeout', persist: true, at: idleEnd }
  }
  return { live: true }
}

/** The moment the session ends if nothing else happens: the earlier of idle and absolute expiry. */
export function sessionDeadline(s: SessionRecord): number {
  return Math.min(s.expiresAt, s.lastActiveAt + s.idleSeconds * 1000)
}
