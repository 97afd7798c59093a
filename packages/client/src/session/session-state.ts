import type { TesseraClientErrorCode } from '../errors.js'
import type { IdTokenClaims } from '../oauth/id-token.js'

/**
 * - `loading`: the stored session has not been read yet; do not redirect anywhere.
 * - `signed-out`: no session; `reason` says why.
 * - `pending`: a sign-in is under way (redirect started, or the callback being redeemed).
 * - `signed-in`: a session, tokens obtainable.
 * - `refreshing`: signed in, a refresh is in flight.
 * - `offline`: signed in, but the last attempt to reach the server or storage failed for a
 *   transient reason (`error`); retrying with backoff, and at once when the network returns.
 */
export type SessionStatus =
  'loading' | 'signed-out' | 'pending' | 'signed-in' | 'refreshing' | 'offline'

export type SignedOutReason =
  /** Nothing was stored: the user has not signed in here. */
  | 'initial'
  /** `signOut()` in this context. */
  | 'sign_out'
  /** Another tab signed out. */
  | 'other_tab'
  /** The session reached its idle or absolute end. */
  | 'session_expired'
  /** The server no longer accepts the session. */
  | 'session_revoked'
  /** A refresh token whose successor was lost was refused (SDK-02). */
  | 'refresh_reused'
  /** No refresh token and no valid access token. */
  | 'login_required'
  /** The idle timeout signed the user out. */
  | 'idle_timeout'

export interface SessionSnapshot {
  readonly status: SessionStatus
  /** False only while `loading`. Never redirect to sign-in before this is true. */
  readonly isLoaded: boolean
  /** A session exists: `signed-in`, `refreshing` or `offline`. */
  readonly isSignedIn: boolean
  /** Claims of the ID token (`sub`, `name`, `email`, ...), or null. */
  readonly user: Readonly<IdTokenClaims> | null
  /** The server's session id (`sid`), or null. */
  readonly sessionId: string | null
  /** Device time (ms) at which the session ends at the latest if unused, when the server said. */
  readonly sessionExpiresAt: number | null
  /** Why there is no session, when `signed-out`. */
  readonly reason: SignedOutReason | null
  /** The transient error behind `offline`, or the last sign-in error. */
  readonly error: { readonly code: TesseraClientErrorCode; readonly message: string } | null
  /** Where the user was when the session ended under them; `signIn()` returns there. */
  readonly returnTo: string | null
  /** The idle timeout locked the session; `unlock()` to use tokens again. */
  readonly locked: boolean
  /** Device time (ms) of the session's absolute end, when the server said. */
  readonly expireAt: number | null
  /** Device time (ms) at which the session is abandoned if idle, when the server said. */
  readonly abandonAt: number | null
  /** Device time (ms) of the session's last activity known to this client. */
  readonly lastActiveAt: number | null
  /** The open task of a session pending one (such as MFA setup), else null. */
  readonly currentTask: string | null
}

export const INITIAL_SNAPSHOT: SessionSnapshot = Object.freeze({
  status: 'loading',
  isLoaded: false,
  isSignedIn: false,
  user: null,
  sessionId: null,
  sessionExpiresAt: null,
  reason: null,
  error: null,
  returnTo: null,
  locked: false,
  expireAt: null,
  abandonAt: null,
  lastActiveAt: null,
  currentTask: null,
})

/** Immutable snapshots and listeners, in the shape `useSyncExternalStore` wants. */
export class SnapshotStore {
  #snapshot: SessionSnapshot = INITIAL_SNAPSHOT
  readonly #listeners = new Set<() => void>()

  get = (): SessionSnapshot => this.#snapshot

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  update(patch: Partial<Omit<SessionSnapshot, 'isLoaded' | 'isSignedIn'>>): void {
    const next = { ...this.#snapshot, ...patch }
    next.isLoaded = next.status !== 'loading'
    next.isSignedIn =
      next.status === 'signed-in' || next.status === 'refreshing' || next.status === 'offline'
    const prev = this.#snapshot
    const same = (Object.keys(next) as (keyof SessionSnapshot)[]).every((k) => next[k] === prev[k])
    if (same) return
    this.#snapshot = Object.freeze(next)
    for (const l of [...this.#listeners]) {
      try {
        l()
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}
