import type { Lifecycle, LifecycleEvent } from '@tessera/client'

/** React Native's `AppState` (`import { AppState } from 'react-native'` satisfies it). */
export interface AppStateModule {
  currentState: string | null
  addEventListener(type: 'change', listener: (state: string) => void): { remove(): void }
}

/** What a network module reports: NetInfo's state (and expo-network's, through
 * `expoNetworkSource`). `null` means not known yet. */
export interface NetworkStateLike {
  isConnected?: boolean | null
  isInternetReachable?: boolean | null
}

/** `@react-native-community/netinfo` (`import NetInfo from '@react-native-community/netinfo'`
 * satisfies it): subscribing calls the listener with the current state, then on every change. */
export interface NetInfoModule {
  addEventListener(listener: (state: NetworkStateLike) => void): () => void
}

/** The part of `expo-network` used by `expoNetworkSource`. */
export interface ExpoNetworkModule {
  addNetworkStateListener(listener: (state: NetworkStateLike) => void): { remove(): void }
  getNetworkStateAsync(): Promise<NetworkStateLike>
}

/** NetInfo's shape over `expo-network` (`import * as Network from 'expo-network'`). */
export function expoNetworkSource(network: ExpoNetworkModule): NetInfoModule {
  return {
    addEventListener(listener) {
      let active = true
      const sub = network.addNetworkStateListener((s: NetworkStateLike) => {
        if (active) listener(s)
      })
      network
        .getNetworkStateAsync()
        .then((s) => {
          if (active) listener(s)
        })
        .catch(() => {})
      return () => {
        active = false
        sub.remove()
      }
    },
  }
}

export interface ReactNativeLifecycleOptions {
  appState: AppStateModule
  /** NetInfo, or `expoNetworkSource(Network)`. Without it the device counts as always online. */
  netInfo?: NetInfoModule
}

/** The core's `Lifecycle`, plus `activity()` for the app to call on user input (the idle
 * timeout). */
export interface ReactNativeLifecycle extends Lifecycle {
  /** Report user activity (for example from a root view's `onTouchStart`). At most one event a
   * second reaches the client. */
  activity(): void
}

/** Whether a network state counts as online: connected and not known to be unreachable. */
export function isOnlineState(s: NetworkStateLike): boolean {
  return s.isConnected !== false && s.isInternetReachable !== false
}

/**
 * `Lifecycle` over `AppState` and NetInfo:
 *
 * - `active` after `background` is `foreground` (the client then retries what failed and
 *   refreshes what went stale, after a random delay up to its `resumeJitterMs`); `background` is
 *   `background`; `inactive` (a system prompt, the app switcher, an incoming call) is neither, so
 *   a Face ID prompt does not count as a resume.
 * - `isForeground()` is false only in `background`, so the client's warming timers do nothing
 *   there; timers that the OS suspended are never trusted: on return the client re-checks every
 *   token's expiry itself.
 * - NetInfo's `isConnected` and `isInternetReachable` (false in either = offline; `null`,
 *   unknown, counts as online) give `online` and `offline` on each change; `online` resumes what
 *   failed while offline.
 *
 * @example
 * import { AppState } from 'react-native'
 * import NetInfo from '@react-native-community/netinfo'
 * const lifecycle = reactNativeLifecycle({ appState: AppState, netInfo: NetInfo })
 */
export function reactNativeLifecycle(o: ReactNativeLifecycleOptions): ReactNativeLifecycle {
  const listeners = new Set<(e: LifecycleEvent) => void>()
  let state = o.appState.currentState ?? 'active'
  let online = true
  let lastActivity = -Infinity
  const emit = (e: LifecycleEvent) => {
    for (const l of [...listeners]) l(e)
  }
  let stop: (() => void) | undefined
  const start = () => {
    let wasBackground = state === 'background'
    const sub = o.appState.addEventListener('change', (next: string) => {
      state = next
      if (next === 'background') {
        if (!wasBackground) emit('background')
        wasBackground = true
      } else if (next === 'active' && wasBackground) {
        wasBackground = false
        emit('foreground')
      }
    })
    const unNet = o.netInfo?.addEventListener((s: NetworkStateLike) => {
      const now = isOnlineState(s)
      if (now === online) return
      online = now
      emit(now ? 'online' : 'offline')
    })
    stop = () => {
      sub.remove()
      unNet?.()
    }
  }
  return {
    subscribe(listener) {
      listeners.add(listener)
      if (!stop) start()
      return () => {
        listeners.delete(listener)
        if (listeners.size === 0 && stop) {
          stop()
          stop = undefined
        }
      }
    },
    isForeground: () => state !== 'background',
    isOnline: () => online,
    activity() {
      const now = Date.now()
      if (now - lastActivity < 1000) return
      lastActivity = now
      emit('activity')
    },
  }
}
