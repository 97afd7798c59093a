/**
 * What the client can tell about the session's end from what the server sends. Tessera's token
 * responses carry `refresh_token_expires_in`: the seconds until the session ends if it is not
 * used again, the sooner of its idle end (last activity + idle timeout) and its absolute end.
 * Every sign-in and refresh is activity. Two deadlines seen at two times tell more:
 *
 * - a deadline that did not move although the session was used is the absolute end;
 * - a deadline that moved was the idle end, so the idle timeout is that deadline minus the time
 *   it was given at; a later deadline nearer than the idle timeout is then the absolute end.
 *
 * All times are milliseconds on the server's timeline. Pure functions.
 */

/** Whole-second rounding at the server and the measured clock offset: differences within this
 * are equal. */
export const SESSION_TIME_TOLERANCE_MS = 2000

export interface SessionTimes {
  /** When the last deadline was given (the request's send time). */
  at: number | null
  /** The session's end if unused, as the server last said. */
  deadline: number | null
  idleMs: number | null
  absoluteEndAt: number | null
}

/** The session times after a token response that said `deadline` (null: it said nothing) at
 * `at`. */
export function learnSessionTimes(
  prev: SessionTimes,
  at: number,
  deadline: number | null,
): SessionTimes {
  const tol = SESSION_TIME_TOLERANCE_MS
  let { idleMs, absoluteEndAt } = prev
  if (deadline !== null && absoluteEndAt === null) {
    if (prev.at !== null && prev.deadline !== null && at - prev.at > tol) {
      if (Math.abs(deadline - prev.deadline) <= tol) absoluteEndAt = deadline
      else if (deadline > prev.deadline + tol) idleMs ??= prev.deadline - prev.at
    }
    if (absoluteEndAt === null && idleMs !== null && deadline - at < idleMs - tol) {
      absoluteEndAt = deadline
    }
  }
  return { at, deadline, idleMs, absoluteEndAt }
}
