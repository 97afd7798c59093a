import { judgeSession, sessionDeadline } from '../sessions/lifecycle.js'
import type { ClientRecord, SessionRecord } from '../store/types.js'
import { describeDevice, type Device } from './device.js'

/** A session as the account API shows it to its user. Times are ISO 8601. */
export interface SessionView {
  id: string
  /** The session of the access token that asked. */
  current: boolean
  /** As decided now: a session past its idle or absolute limit shows `abandoned` or `expired`
   * even before the maintenance pass has stored it. */
  state: SessionRecord['state']
  /** Why it ended (`sign_out`, `user`, `admin`, `idle_timeout`, ...); null while active. */
  end_reason: SessionRecord['reason']
  /** The task of a `pending` session (`setup-mfa`: enrol a second factor at `/account/mfa`;
   * `verify-email`: follow the verification link, resent from `/account`), else null. */
  task: string | null
  client: { id: string; name: string }
  device: Device
  user_agent: string | null
  /** The address it signed in from. */
  ip: string | null
  created_at: string
  /** When the user last signed in (`auth_time`); a refresh does not change it. */
  authenticated_at: string
  last_active_at: string
  /** When it ends if nothing else happens (the earlier of idle and absolute expiry); null once
   * ended. */
  expires_at: string | null
  ended_at: string | null
}

const iso = (ms: number): string => new Date(ms).toISOString()

/** The view of `s` at `now`, for the caller whose token belongs to `currentId`. */
export function sessionView(
  s: SessionRecord,
  client: ClientRecord | undefined,
  now: number,
  currentId: string,
): SessionView {
  const verdict = judgeSession(s, now)
  const live = verdict.live
  return {
    id: s.id,
    current: s.id === currentId,
    state: live ? s.state : verdict.state,
    end_reason: live ? null : verdict.reason,
    task: live && s.state === 'pending' ? (s.task ?? null) : null,
    client: { id: s.clientId, name: client?.name ?? s.clientId },
    device: describeDevice(s.userAgent),
    user_agent: s.userAgent,
    ip: s.ip,
    created_at: iso(s.createdAt),
    authenticated_at: iso(s.authTime),
    last_active_at: iso(s.lastActiveAt),
    expires_at: live ? iso(sessionDeadline(s)) : null,
    ended_at: live ? null : iso(verdict.at),
  }
}
