import type { ClientRecord, SessionRecord } from '../../store/types.js'

/** The one range of `refreshGraceSeconds`, in the configuration file and the Admin API alike. */
export const GRACE_SECONDS_RANGE = { min: 0, max: 300 } as const
/** The one range of `refreshGraceMaxUses`, in the configuration file and the Admin API alike. */
export const GRACE_MAX_USES_RANGE = { min: 0, max: 10_000 } as const

/**
 * Default grace windows, by what a thief could do with a previous refresh token it stole. Inside
 * the window such a token still returns the current one, so the window is how long a theft can go
 * unnoticed after each rotation; a token that is worthless alone (bound to a DPoP key, or needing
 * the client's secret) can have the longest window at no cost.
 */
export const DEFAULT_GRACE_SECONDS = {
  /** Browser apps: concurrent tabs share one lock and retries come within seconds. */
  web: 30,
  /** Native apps: one suspended in the middle of a refresh retries when it is resumed (Auth0
   * recommends a reuse interval of at least 180 s for mobile apps). */
  native: 180,
  /** Sender-constrained refresh tokens: a DPoP-bound session, or a confidential client. */
  constrained: 300,
} as const
/** Default guard on grace replays per rotation; far above any legitimate retry storm. */
export const DEFAULT_GRACE_MAX_USES = 1000

export interface GraceWindow {
  /** Seconds after a rotation in which the previous token returns the current one. */
  seconds: number
  /** Replays of the previous token answered per rotation; beyond, they are refused (no revocation). */
  maxUses: number
}

/**
 * The grace window of a session, from its client's current settings (so a change applies to live
 * sessions at once) and, when the client sets no window, from its type and the session's binding.
 */
export function graceWindow(
  client: Pick<ClientRecord, 'applicationType' | 'secretHash'> &
    Partial<Pick<ClientRecord, 'refreshGraceSeconds' | 'refreshGraceMaxUses'>>,
  session: Pick<SessionRecord, 'dpopJkt'>,
): GraceWindow {
  return {
    seconds: client.refreshGraceSeconds ?? defaultGraceSeconds(client, session),
    maxUses: client.refreshGraceMaxUses ?? DEFAULT_GRACE_MAX_USES,
  }
}

function defaultGraceSeconds(
  client: Pick<ClientRecord, 'applicationType' | 'secretHash'>,
  session: Pick<SessionRecord, 'dpopJkt'>,
): number {
  if (session.dpopJkt || client.secretHash !== null) return DEFAULT_GRACE_SECONDS.constrained
  return DEFAULT_GRACE_SECONDS[client.applicationType]
}
