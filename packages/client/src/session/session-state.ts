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
  /** Alias of `abandonAt`, kept for compatibility. */
  readonly sessionExpiresAt: number | null
  /** Device time (ms) of the session's absolute end (it ends then however active the user is),
   * once the client has learned it from the server's deadlines; null until then, and without a
   * session. See the README, "Session state". */
  readonly expireAt: number | null
  /** Device time (ms) at which the server ends the session if it is not used again: its idle
   * end, or its absolute end when that comes first. Null without a session or when the server
   * did not say (`refresh_token_expires_in`). */
  readonly abandonAt: number | null
  /** Device time (ms) of the last successful sign-in or refresh (by any tab sharing storage);
   * null without a session or for a session stored by an older version. */
  readonly lastActiveAt: number | null
  /** The ID token's `tessera_task` claim (a task the user must complete), or null. */
  readonly currentTask: string | null
  /** Why there is no session, when `signed-out`. */
  readonly reason: SignedOutReason | null
  /** The transient error behind `offline`, or the last sign-in error. */
  readonly error: { readonly code: TesseraClientErrorCode; readonly message: string } | null
  /** Where the user was when the session ended under them; `signIn()` returns there. */
  readonly returnTo: string | null
  /** The idle timeout locked the session; `unlock()` to use tokens again. */
  readonly locked: boolean
}

/** The snapshot before anything is loaded (`status: 'loading'`, no session): what a client shows
 * first, what a server render shows, and what a bridge frame shows before its shell answers. */
export const INITIAL_SNAPSHOT: SessionSnapshot = Object.freeze({
  status: 'loading',
  isLoaded: false,
  isSignedIn: false,
  user: null,
  sessionId: null,
  sessionExpiresAt: null,
  expireAt: null,
  abandonAt: null,
  lastActiveAt: null,
  currentTask: null,
  reason: null,
  error: null,
  returnTo: null,
  locked: false,
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
