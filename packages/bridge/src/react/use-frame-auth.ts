import { useEffect, useMemo, useState, useSyncExternalStore } from 'react'
import { BridgeError } from '../errors.js'
import type { FrameAuthSource, FrameAuthView } from './frame-store.js'
import { storeOf } from './frame-store.js'

export interface UseFrameAuthOptions {
  /**
   * Start the handshake with the shell when the component mounts (`frame.connect()`), so the
   * session is known before the first `getToken`. Default true. With false, the snapshot stays
   * `loading` until the first `getToken`/`fetch` connects.
   */
  connect?: boolean
}

export interface FrameAuth extends FrameAuthView {
  /** An access token for `audience` from the shell (the frame client's `getToken`); stable. */
  readonly getToken: FrameAuthSource['getToken']
  /** The frame client's `fetch`: the token of the URL's API added, one 401 replay; stable. */
  readonly fetch: FrameAuthSource['fetch']
  /**
   * Why the handshake failed (`shell_unavailable`: not framed by a shell that registered this
   * origin, or `disconnected`), else null. Cleared when a later connection succeeds.
   */
  readonly connectError: BridgeError | null
}

/**
 * The shell's session in a micro frontend written in React: `isLoaded` (false until the shell
 * answered the handshake), `isSignedIn` (undefined until then, never false early), `user` (the ID
 * token's claims without the token's own), `sessionId`, `locked`, `status`, and the frame
 * client's `getToken` and `fetch` as stable functions. Reads the frame client through
 * `useSyncExternalStore`; re-renders only when one of those fields changes by value (not when the
 * shell refreshes a token). Every component given the same frame client shares one view.
 *
 * @example
 * import { createFrameClient } from '@tessera/bridge'
 * import { useFrameAuth } from '@tessera/bridge/react'
 * const frame = createFrameClient({ shellOrigin: 'https://app.example.com', apis })
 * function Orders() {
 *   const { isLoaded, isSignedIn, user, fetch } = useFrameAuth(frame)
 *   if (!isLoaded) return <p>Loading…</p>
 *   return isSignedIn ? <p>Hello {user?.name}</p> : <p>Signed out</p>
 * }
 */
export function useFrameAuth(frame: FrameAuthSource, options: UseFrameAuthOptions = {}): FrameAuth {
  const store = storeOf(frame)
  const view = useSyncExternalStore(store.subscribe, store.get, store.getServer)
  const connect = options.connect ?? true
  const [connectError, setConnectError] = useState<BridgeError | null>(null)
  useEffect(() => {
    if (!connect) return
    let live = true
    store.connect().then(
      () => live && setConnectError(null),
      (err: unknown) => {
        if (!live) return
        setConnectError(
          err instanceof BridgeError ? err : new BridgeError('shell_unavailable', String(err)),
        )
      },
    )
    return () => {
      live = false
    }
  }, [store, connect])
  return useMemo(
    () =>
      Object.freeze({
        ...view,
        getToken: store.getToken,
        fetch: store.fetch,
        connectError,
      }),
    [view, store, connectError],
  )
}
