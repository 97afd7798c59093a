import type { ReactNode } from 'react'
import { useAuth, type UseAuthOptions } from '../hooks/use-auth.js'

export interface ControlProps extends UseAuthOptions {
  children?: ReactNode
}

/**
 * Renders its children once the session is loaded and signed in (a session with an open task
 * counts as signed out unless `treatPendingAsSignedOut={false}`). Nothing before load.
 */
export function SignedIn({ children, ...options }: ControlProps): ReactNode {
  const { isSignedIn } = useAuth(options)
  return isSignedIn === true ? children : null
}

/** Renders its children once the session is loaded and signed out. Nothing before load. */
export function SignedOut({ children, ...options }: ControlProps): ReactNode {
  const { isSignedIn } = useAuth(options)
  return isSignedIn === false ? children : null
}

/** Renders its children until the stored session has been read (a splash screen, a spinner). */
export function AuthLoading({ children }: { children?: ReactNode }): ReactNode {
  const { isLoaded } = useAuth()
  return isLoaded ? null : children
}
