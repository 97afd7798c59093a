/**
 * Stand-ins for React Native's AppState and NetInfo, the auth session of expo-web-browser,
 * Linking, and expo-local-authentication, behaving as their documentation says.
 */
type Listener<T> = (v: T) => void

/** AppState: `currentState` and `change` events (`active`, `background`, `inactive`). */
export class FakeAppState {
  currentState: 'active' | 'background' | 'inactive' = 'active'
  readonly #l = new Set<Listener<string>>()
  addEventListener(_type: 'change', l: Listener<string>) {
    this.#l.add(l)
    return { remove: () => this.#l.delete(l) }
  }
  set(state: 'active' | 'background' | 'inactive') {
    this.currentState = state
    for (const l of [...this.#l]) l(state)
  }
  listeners() {
    return this.#l.size
  }
}

/** NetInfo: subscribing answers the current state at once (as NetInfo does), then changes. */
export class FakeNetInfo {
  state = { isConnected: true as boolean | null, isInternetReachable: true as boolean | null }
  readonly #l = new Set<Listener<FakeNetInfo['state']>>()
  addEventListener(l: Listener<FakeNetInfo['state']>) {
    this.#l.add(l)
    const s = this.state
    setImmediate(() => l(s))
    return () => {
      this.#l.delete(l)
    }
  }
  set(isConnected: boolean | null, isInternetReachable: boolean | null) {
    this.state = { isConnected, isInternetReachable }
    for (const l of [...this.#l]) l(this.state)
  }
}

/** Linking: `url` events. */
export class FakeLinking {
  readonly #l = new Set<Listener<{ url: string }>>()
  addEventListener(_type: 'url', l: Listener<{ url: string }>) {
    this.#l.add(l)
    return { remove: () => this.#l.delete(l) }
  }
  open(url: string) {
    for (const l of [...this.#l]) l({ url })
  }
}

/**
 * expo-local-authentication's authenticateAsync: answers from a script of results; `hang` never
 * settles (a prompt the system lost); `cancelAuthenticate` settles a hanging prompt with
 * `app_cancel`, as on Android.
 */
export class FakeLocalAuthentication {
  script: (
    'success' | 'user_cancel' | 'system_cancel' | 'lockout' | 'authentication_failed' | 'hang'
  )[] = []
  prompts = 0
  lastOptions: unknown
  #pending: ((r: { success: false; error: string }) => void) | undefined
  async authenticateAsync(options?: unknown) {
    this.prompts++
    this.lastOptions = options
    const next = this.script.shift() ?? 'success'
    await new Promise((r) => setImmediate(r))
    if (next === 'success') return { success: true as const }
    if (next === 'hang') {
      return new Promise<{ success: false; error: string }>((resolve) => {
        this.#pending = resolve
      })
    }
    return { success: false as const, error: next }
  }
  cancelAuthenticate(): Promise<void> {
    this.#pending?.({ success: false, error: 'app_cancel' })
    this.#pending = undefined
    return Promise.resolve()
  }
}
