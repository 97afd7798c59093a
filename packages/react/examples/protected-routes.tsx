import type { ReactNode } from 'react'
import { Protect, safeReturnTo, useAuth } from '@tessera/react'

/** What the app's router gives (React Router's `useNavigate` and `useLocation`, Expo Router's
 * `useRouter` and `usePathname`, or your own). */
export interface Router {
  pathname: string
  replace(to: string): void
}

/** The layout of every signed-in route. */
export function ProtectedLayout({ router, children }: { router: Router; children: ReactNode }) {
  return (
    <Protect
      fallback={<p>Loading…</p>} // or null, with the splash screen held until isLoaded
      navigate={(to) => router.replace(to)}
      signInRoute="/sign-in"
      returnTo={router.pathname}
      taskRoutes={{ 'setup-mfa': '/tasks/mfa' }}
    >
      {children}
    </Protect>
  )
}

/** The app's sign-in route: starts the hosted sign-in and comes back to `returnTo`. */
export function SignInScreen({ query }: { query: URLSearchParams }) {
  const { signIn } = useAuth()
  const returnTo = safeReturnTo(query.get('returnTo'), '/')
  return <button onClick={() => void signIn({ returnTo })}>Continue to sign-in</button>
}
