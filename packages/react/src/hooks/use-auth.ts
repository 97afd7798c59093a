import { useMemo, useSyncExternalStore } from 'react'
import { useBinding } from '../provider/tessera-provider.js'
import type { AuthActions, AuthView, TesseraUser } from '../provider/binding.js'

export interface UseAuthOptions {
  /**
   * Treat a session with an open task (`currentTask !== null`, such as MFA setup) as signed out:
   * `isSignedIn` false, `user` and `sessionId` null, `<SignedIn>` hidden. Default true, as in
   * Clerk: an app that has not thought about tasks never shows signed-in screens to a session
   * that is not finished. Pass false on the screens that complete the task. `getToken` is the
   * client's either way.
   */
  treatPendingAsSignedOut?: boolean
}

interface Common extends AuthActions {
  /** The session has an open task that `treatPendingAsSignedOut` hid (see `useSession`). */
  readonly isPending: boolean
}

/** Before the client has read its storage: nothing is known yet, so nothing is false. */
export interface AuthLoading extends Common {
  readonly isLoaded: false
  readonly isSignedIn: undefined
  readonly user: null
  readonly sessionId: null
}

export interface AuthSignedOut extends Common {
  readonly isLoaded: true
  readonly isSignedIn: false
  readonly user: null
  readonly sessionId: null
}

export interface AuthSignedIn extends Common {
  readonly isLoaded: true
  readonly isSignedIn: true
  /** The ID token's claims without the token's own (`iat`, `exp` ...): stable across refreshes.
   * Null only for a client configured without the `openid` scope. */
  readonly user: TesseraUser | null
  /** The server's session id (`sid`), when the server gave one. */
  readonly sessionId: string | null
}

export type UseAuthResult = AuthLoading | AuthSignedOut | AuthSignedIn

/** The three-state reading of a view under `treatPendingAsSignedOut`. */
export function authState(
  view: AuthView,
  treatPendingAsSignedOut: boolean,
): { isLoaded: boolean; isSignedIn: boolean | undefined; isPending: boolean } {
  if (!view.isLoaded) return { isLoaded: false, isSignedIn: undefined, isPending: false }
  const isPending = view.hasSession && view.currentTask !== null && treatPendingAsSignedOut
  return { isLoaded: true, isSignedIn: view.hasSession && !isPending, isPending }
}

/**
 * The session as a component needs it: `isLoaded`, then `isSignedIn` (undefined until loaded,
 * never false early), `user`, `sessionId`, and the client's `getToken`, `signIn`, `signOut`
 * (stable identities, safe in effect dependencies). Re-renders only when one of those values
 * changes, not on token refreshes.
 *
 * @example
 * const { isLoaded, isSignedIn, user, signIn } = useAuth()
 * if (!isLoaded) return <Spinner />
 * return isSignedIn ? <p>Hello {user?.name}</p> : <button onClick={() => signIn()}>Sign in</button>
 */
export function useAuth(options: UseAuthOptions = {}): UseAuthResult {
  const { auth, actions } = useBinding('useAuth')
  const view = useSyncExternalStore(auth.subscribe, auth.get, auth.getServer)
  const treat = options.treatPendingAsSignedOut ?? true
  return useMemo(() => {
    const s = authState(view, treat)
    const signedIn = s.isSignedIn === true
    return Object.freeze({
      ...actions,
      isLoaded: s.isLoaded,
      isSignedIn: s.isLoaded ? signedIn : undefined,
      isPending: s.isPending,
      user: signedIn ? view.user : null,
      sessionId: signedIn ? view.sessionId : null,
    }) as UseAuthResult
  }, [view, treat, actions])
}
