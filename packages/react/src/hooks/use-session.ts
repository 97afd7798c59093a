import { useSyncExternalStore } from 'react'
import { useBinding } from '../provider/tessera-provider.js'
import type { SessionView } from '../provider/binding.js'

/**
 * The session's lifecycle: `status`, `reason`, `expireAt`, `abandonAt`, `lastActiveAt`,
 * `currentTask` and `locked` (plus `isLoaded` and `error`). Re-renders when one of them changes,
 * including `refreshing` and `offline`; components that only need signed-in or not read `useAuth`.
 *
 * @example
 * const { status, currentTask, expireAt } = useSession()
 */
export function useSession(): SessionView {
  const { session } = useBinding('useSession')
  return useSyncExternalStore(session.subscribe, session.get, session.getServer)
}
