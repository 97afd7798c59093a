import { useEffect, useRef, useSyncExternalStore, type ReactNode } from 'react'
import { TesseraReactError } from '../errors.js'
import { useBinding } from '../provider/tessera-provider.js'
import { guardDecision } from './guard-decision.js'

export interface ProtectProps {
  children?: ReactNode
  /** Shown while the session loads and while a redirect is under way (a spinner, or null while
   * the splash screen is held). Default null. */
  fallback?: ReactNode
  /** Shown instead of the children while the idle timeout has locked the session (an unlock
   * screen that calls `client.unlock()`). Default: the fallback. */
  locked?: ReactNode
  /**
   * The router's replace-navigation to a path of the app: `(to) => router.replace(to)` (Expo
   * Router), `(to) => navigate(to, { replace: true })` (React Router). Needed with `signInRoute`
   * or `taskRoutes`.
   */
  navigate?: (to: string) => void
  /** The app's own sign-in route. The guard goes there with `?returnTo=`; without it, the guard
   * starts the hosted sign-in (`client.signIn({ returnTo })`, opened by the client's `navigate`). */
  signInRoute?: string
  /** Where to come back after sign-in: the current path. Default: the client's `currentUrl`. */
  returnTo?: string
  /** The route of each session task (`{ 'setup-mfa': '/tasks/mfa' }`). Put those routes outside
   * the guard. */
  taskRoutes?: Readonly<Record<string, string>>
  /** See `useAuth`; default true: a session with a task whose route is not listed renders the
   * fallback, never the children. */
  treatPendingAsSignedOut?: boolean
}

/**
 * A route guard that works with any router. Until the session is loaded it renders the fallback
 * and redirects nowhere (APP-15); a signed-out user goes to sign-in with `returnTo`; a session
 * with an open task goes to the route of its task; the children render only for a session that
 * may see them. Redirects run in an effect, once per state, never during render.
 *
 * @example
 * <Protect fallback={<Spinner />} navigate={(to) => router.replace(to)} signInRoute="/sign-in"
 *   returnTo={pathname} taskRoutes={{ 'setup-mfa': '/tasks/mfa' }}>
 *   <Slot />
 * </Protect>
 */
export function Protect(props: ProtectProps): ReactNode {
  const binding = useBinding('Protect')
  const { guard } = binding
  if (!props.navigate && (props.signInRoute !== undefined || props.taskRoutes !== undefined)) {
    throw new TesseraReactError(
      'configuration',
      '<Protect> needs `navigate` to use `signInRoute` or `taskRoutes`',
    )
  }
  const view = useSyncExternalStore(guard.subscribe, guard.get, guard.getServer)
  const decision = guardDecision(view, props)
  const redirect = decision.redirect
  const key =
    redirect === null
      ? null
      : redirect.kind === 'route'
        ? `route:${redirect.to}`
        : `sign-in:${redirect.returnTo ?? ''}`
  const done = useRef<string | null>(null)
  const navigate = useRef(props.navigate)
  navigate.current = props.navigate

  useEffect(() => {
    if (key === null || redirect === null) {
      done.current = null
      return
    }
    // StrictMode runs effects twice, and a re-render must not redirect again to the same place.
    if (done.current === key) return
    done.current = key
    if (redirect.kind === 'route') {
      navigate.current?.(redirect.to)
    } else {
      // A failure is in the client's snapshot (`error`); the fallback stays.
      binding
        .startSignIn(redirect.returnTo === undefined ? {} : { returnTo: redirect.returnTo })
        .catch(() => {
          done.current = null
        })
    }
  }, [key, redirect, binding])

  if (decision.render === 'children') return props.children
  if (decision.render === 'locked') return props.locked ?? props.fallback ?? null
  return props.fallback ?? null
}
