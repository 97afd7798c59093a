import type { SessionEndReason, SessionRecord, SessionState } from '../store/types.js'

export type SessionVerdict =
  | { live: true }
  | {
      live: false
      state: Exclude<SessionState, 'active' | 'pending'>
      reason: SessionEndReason | null
      persist: boolean
    }

/**
 * Decides from the one clock whether a session is still live. A session past its absolute
 * lifetime is `expired`; one unused longer than its idle timeout is `abandoned`. `persist` says the
 * stored state is still active and should be brought up to date.
 */
export function judgeSession(s: SessionRecord, now: number): SessionVerdict {
  if (s.state !== 'active' && s.state !== 'pending') {
    return { live: false, state: s.state, reason: s.reason, persist: false }
  }
  if (now >= s.expiresAt)
    return { live: false, state: 'expired', reason: 'absolute_lifetime', persist: true }
  if (now >= s.lastActiveAt + s.idleSeconds * 1000) {
    return { live: false, state: 'abandoned', reason: 'idle_timeout', persist: true }
  }
  return { live: true }
}

/** The moment the session ends if nothing else happens: the earlier of idle and absolute expiry. */
export function sessionDeadline(s: SessionRecord): number {
  return Math.min(s.expiresAt, s.lastActiveAt + s.idleSeconds * 1000)
}
