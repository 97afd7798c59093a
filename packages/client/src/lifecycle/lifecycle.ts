import type { EventTargetLike } from '../platform-types.js'
/** What the platform tells the client about the app and the network. */
export type LifecycleEvent =
  /** The app or tab is visible again (resume). */
  | 'foreground'
  /** The app or tab is hidden or being unloaded. */
  | 'background'
  | 'online'
  | 'offline'
  /** The user did something (for the idle timeout). */
  | 'activity'

/**
 * Platform events, injected: the browser implementation listens to `visibilitychange`,
 * `pagehide`, `online`/`offline` and input; React Native's to AppState and NetInfo (as TanStack
 * Query's `focusManager.setEventListener`).
 */
export interface Lifecycle {
  subscribe(listener: (event: LifecycleEvent) => void): () => void
  /** Whether the app is in the foreground now. Default: true. */
  isForeground?(): boolean
  /** Whether the device believes it is online now. Default: true. */
  isOnline?(): boolean
}

/** The parts of `window` and `document` the browser lifecycle uses. */
export interface BrowserLifecycleTarget {
  window: EventTargetLike & { navigator?: { onLine?: boolean } }
  document: EventTargetLike & { readonly visibilityState: string }
}

/**
 * Browser lifecycle: `visibilitychange` and `pageshow`/`pagehide` for foreground and background,
 * `online`/`offline`, and pointer, key and scroll input as activity (at most one event per
 * second).
 *
 * @example
 * const client = createTesseraClient({ ..., lifecycle: browserLifecycle() })
 */
export function browserLifecycle(target: BrowserLifecycleTarget = { window, document }): Lifecycle {
  const { window: w, document: d } = target
  return {
    subscribe(listener) {
      let lastActivity = 0
      const visibility = () =>
        listener(d.visibilityState === 'hidden' ? 'background' : 'foreground')
      const pagehide = () => listener('background')
      const pageshow = () => listener('foreground')
      const online = () => listener('online')
      const offline = () => listener('offline')
      const activity = () => {
        const now = Date.now()
        if (now - lastActivity < 1000) return
        lastActivity = now
        listener('activity')
      }
      d.addEventListener('visibilitychange', visibility)
      w.addEventListener('pagehide', pagehide)
      w.addEventListener('pageshow', pageshow)
      w.addEventListener('online', online)
      w.addEventListener('offline', offline)
      const inputs = ['pointerdown', 'keydown', 'scroll', 'touchstart'] as const
      for (const e of inputs) w.addEventListener(e, activity, { passive: true, capture: true })
      return () => {
        d.removeEventListener('visibilitychange', visibility)
        w.removeEventListener('pagehide', pagehide)
        w.removeEventListener('pageshow', pageshow)
        w.removeEventListener('online', online)
        w.removeEventListener('offline', offline)
        for (const e of inputs) w.removeEventListener(e, activity, { capture: true })
      }
    },
    isForeground: () => d.visibilityState !== 'hidden',
    isOnline: () => w.navigator?.onLine !== false,
  }
}
