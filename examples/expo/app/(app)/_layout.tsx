/**
 * The signed-in part of the app, behind `<Protect>`: a loading indicator until the session is
 * loaded (and no redirect before that), a signed-out user sent to /sign-in with `returnTo`, a
 * session with a pending task sent to that task's route, the idle-timeout lock to /unlock.
 */
import { Protect } from '@tessera/react-native'
import { Redirect, Stack, usePathname, useRouter } from 'expo-router'
import { TASK_ROUTES } from '../../src/config'
import { Loading } from '../../src/ui'

export default function ProtectedLayout() {
  const router = useRouter()
  const pathname = usePathname()
  return (
    <Protect
      fallback={<Loading />}
      locked={<Redirect href="/unlock" />}
      navigate={(to) => router.replace(to)}
      signInRoute="/sign-in"
      returnTo={pathname}
      taskRoutes={TASK_ROUTES}
    >
      <Stack screenOptions={{ headerShown: false }} />
    </Protect>
  )
}
