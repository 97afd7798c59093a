import { messageOf, nativeCode, TesseraNativeError } from './errors.js'
import type { SecureStoreModule } from './storage/secure-store.js'
import { timers } from './timers.js'
import { keychainStorage, type KeychainModule, type KeychainPrompt } from './storage/keychain.js'

/** The result of a biometric prompt, as `expo-local-authentication` returns it. */
export type BiometricResult =
  { success: true } | { success: false; error: string; warning?: string }

/**
 * A biometric prompt: `expo-local-authentication` (`import * as LocalAuthentication from
 * 'expo-local-authentication'` satisfies it; a type test checks that), or
 * `reactNativeBiometricsAuthenticator(rnBiometrics)` over react-native-biometrics.
 */
export interface BiometricAuthenticator {
  authenticateAsync(options?: {
    promptMessage?: string
    cancelLabel?: string
    disableDeviceFallback?: boolean
    fallbackLabel?: string
  }): Promise<BiometricResult>
  /** Android: dismisses a prompt that is showing. */
  cancelAuthenticate?(): Promise<void>
}

/** react-native-biometrics' `simplePrompt` (an instance of `ReactNativeBiometrics`). */
export interface ReactNativeBiometricsLike {
  simplePrompt(options: {
    promptMessage: string
    cancelButtonText?: string
    fallbackPromptMessage?: string
  }): Promise<{ success: boolean; error?: string }>
}

/** A `BiometricAuthenticator` over react-native-biometrics. Its errors are free text, so a failed
 * prompt is reported as `user_cancel` when it says so and `authentication_failed` otherwise. */
export function reactNativeBiometricsAuthenticator(
  rnb: ReactNativeBiometricsLike,
): BiometricAuthenticator {
  return {
    async authenticateAsync(o = {}) {
      const r = await rnb.simplePrompt({
        promptMessage: o.promptMessage ?? 'Unlock',
        ...(o.cancelLabel !== undefined ? { cancelButtonText: o.cancelLabel } : {}),
      })
      if (r.success) return { success: true }
      return {
        success: false,
        error: /cancel/i.test(r.error ?? '') ? 'user_cancel' : 'authentication_failed',
      }
    },
  }
}

/**
 * A key bound to the enrolled biometrics (Keychain `BIOMETRY_CURRENT_SET`, or a SecureStore item
 * with `requireAuthentication`). Reading it prompts; after an enrollment change it can never be
 * read again.
 */
export interface BiometricKey {
  /** Creates the key (after a full sign-in). */
  create(): Promise<void>
  /** Prompts and reads: `ok`, or `invalidated` (the enrollment changed, or the key is gone).
   * Rejects with `biometric_failed` when the prompt was cancelled or failed. */
  read(): Promise<'ok' | 'invalidated'>
  remove(): Promise<void>
}

/**
 * A `BiometricKey` in react-native-keychain: a random value under `BIOMETRY_CURRENT_SET` access
 * control and `WHEN_UNLOCKED_THIS_DEVICE_ONLY`.
 */
export function keychainBiometricKey<A, C>(
  keychain: KeychainModule<A, C>,
  o: { service?: string; prompt?: KeychainPrompt; random: (bytes: Uint8Array) => Uint8Array },
): BiometricKey {
  let invalidated = false
  const store = keychainStorage(keychain, {
    servicePrefix: o.service ?? 'tessera-biometric:',
    biometryCurrentSet: true,
    ...(o.prompt ? { prompt: o.prompt } : {}),
    onInvalidated: () => {
      invalidated = true
    },
  })
  return {
    async create() {
      await store.set('key', hex(o.random(new Uint8Array(32))))
    },
    async read() {
      invalidated = false
      const v = await store.get('key')
      return v === null || invalidated ? 'invalidated' : 'ok'
    },
    remove: () => store.remove('key'),
  }
}

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')

/**
 * A `BiometricKey` in expo-secure-store: a random value stored with `requireAuthentication`
 * (iOS `biometryCurrentSet`; Android a Keystore key that needs user authentication), in a
 * keychain service of its own as the module's docs ask. expo-secure-store reads an item whose key
 * the system invalidated after a biometric change as `null`: that (or a key never made) is
 * `invalidated`.
 */
export function secureStoreBiometricKey(
  store: SecureStoreModule,
  o: {
    random: (bytes: Uint8Array) => Uint8Array
    /** Item name. Default `tessera-biometric-key`. */
    key?: string
    /** Keychain service of the key. Default `tessera-biometric`. */
    keychainService?: string
    promptMessage?: string
  },
): BiometricKey {
  const name = o.key ?? 'tessera-biometric-key'
  const auth = {
    keychainService: o.keychainService ?? 'tessera-biometric',
    keychainAccessible: store.WHEN_UNLOCKED_THIS_DEVICE_ONLY,
    requireAuthentication: true,
    ...(o.promptMessage !== undefined ? { authenticationPrompt: o.promptMessage } : {}),
  }
  return {
    async create() {
      await store.setItemAsync(name, hex(o.random(new Uint8Array(32))), auth)
    },
    async read() {
      let v: string | null
      try {
        v = await store.getItemAsync(name, auth)
      } catch (err) {
        const cancelled = /cancel/i.test(messageOf(err))
        throw new TesseraNativeError(
          'biometric_failed',
          cancelled ? 'the biometric prompt was cancelled' : 'biometric authentication failed',
          { cause: err, reason: cancelled ? 'user_cancel' : (nativeCode(err) ?? 'unknown') },
        )
      }
      return v === null ? 'invalidated' : 'ok'
    },
    async remove() {
      await store.deleteItemAsync(name, auth)
    },
  }
}

/** The app's compromised-device detector (jailbreak/root, hooking frameworks, ...). */
export interface DeviceIntegrityCheck {
  check(): Promise<{ compromised: boolean; reasons?: string[] }>
}

/** The client calls the gate needs (a `TesseraClient` satisfies it). */
export interface GateClient {
  getSnapshot(): { locked: boolean; isSignedIn: boolean; isLoaded?: boolean }
  subscribe(listener: () => void): () => void
  unlock(): void
  signOut(): Promise<unknown>
}

export interface BiometricGateOptions {
  client: GateClient
  /** The prompt. Required unless `key` is given (reading the key is then the prompt). */
  authenticator?: BiometricAuthenticator
  /** A key bound to the enrolled biometrics: read on every unlock; when it is invalidated the
   * session is ended and the user signs in again (APP-10). */
  key?: BiometricKey
  promptMessage?: string
  cancelLabel?: string
  /** Let the user fall back to the device passcode in the system prompt. Default false. */
  allowDeviceCredential?: boolean
  /** A prompt that has not settled after this long fails as `timeout` (and is dismissed where
   * the platform can). Default 60000 ms. */
  promptTimeoutMs?: number
  /** After the n-th failure or cancel in a row, prompts are refused for
   * `min(maxMs, baseMs * 2^(n-1))`. Default 1 s doubling to 5 min. */
  backoff?: { baseMs?: number; maxMs?: number }
  /** Start locked (unlock on launch) when a session is signed in. Default true. */
  lockOnLaunch?: boolean
  /** The app's detector and policy for sensitive actions: `refuse` rejects `confirm()` with
   * `device_compromised`. Without a policy nothing is refused. */
  deviceIntegrity?: DeviceIntegrityCheck
  compromisedPolicy?: (result: { compromised: boolean; reasons?: string[] }) => 'allow' | 'refuse'
  /** Time source and timers. Default the platform's. */
  clock?: {
    now(): number
    setTimeout(fn: () => void, ms: number): unknown
    clearTimeout(h: unknown): void
  }
}

export interface BiometricGateState {
  locked: boolean
  /** A prompt is showing. */
  authenticating: boolean
  /** Failures and cancels in a row. */
  failures: number
  /** When prompts may start again (ms since the epoch), or null. */
  retryAt: number | null
  /** The enrolled biometrics changed: the session was ended. */
  biometryChanged: boolean
}

export interface BiometricGate {
  getState: () => BiometricGateState
  subscribe: (listener: () => void) => () => void
  /** Prompts and opens the gate (and the client's idle-timeout lock). */
  unlock(): Promise<void>
  /** Step-up before a sensitive action: checks device integrity (the app's policy), then prompts,
   * whether or not the gate is locked. */
  confirm(): Promise<void>
  lock(): void
  dispose(): void
}

const defaultClock = {
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number): unknown => timers.setTimeout(fn, ms),
  clearTimeout: (h: unknown) => timers.clearTimeout(h),
}

/**
 * The biometric gate: unlock on launch and before sensitive actions, over
 * `expo-local-authentication` (or react-native-biometrics, or a Keychain key bound to the
 * enrolled biometrics).
 *
 * - Fails closed: a cancel (by the user, or by the system when the app goes to the background), a
 *   failure, a lockout or a timeout leaves the gate locked and rejects with `biometric_failed`.
 * - Exponential backoff after failures and cancels: while it runs, `unlock()` rejects with
 *   `biometric_backoff` (and `retryAfterMs`) without prompting, so an app that prompts on every
 *   focus cannot trap the user in a loop (APP-11).
 * - A prompt that never settles times out (`promptTimeoutMs`); concurrent calls share one prompt;
 *   a later prompt can always start (never stuck in `authenticating`).
 * - With `key`: an enrollment change makes the key unreadable; the key is deleted, the session
 *   is ended with `signOut()` and `unlock()` rejects with `biometry_changed` (APP-10). Nothing is
 *   unlocked silently.
 * - The client's `idleTimeout` lock (`action: 'lock'`) locks the gate; unlocking the gate lifts it.
 */
export function createBiometricGate(o: BiometricGateOptions): BiometricGate {
  if (!o.authenticator && !o.key) {
    throw new TesseraNativeError(
      'configuration',
      'createBiometricGate needs an authenticator (expo-local-authentication) or a biometric key',
    )
  }
  const clock = o.clock ?? defaultClock
  const baseMs = o.backoff?.baseMs ?? 1000
  const maxMs = o.backoff?.maxMs ?? 5 * 60_000
  const timeoutMs = o.promptTimeoutMs ?? 60_000
  const listeners = new Set<() => void>()
  let state: BiometricGateState = {
    locked: (o.lockOnLaunch ?? true) && o.client.getSnapshot().isSignedIn,
    authenticating: false,
    failures: 0,
    retryAt: null,
    biometryChanged: false,
  }
  let inflight: Promise<void> | undefined
  const set = (patch: Partial<BiometricGateState>) => {
    state = { ...state, ...patch }
    for (const l of [...listeners]) l()
  }
  // The launch is the client's first load: a session read from storage then is locked; a session
  // the user just signed in to is not (they just proved who they are).
  let launched = o.client.getSnapshot().isLoaded !== false
  const unsubscribe = o.client.subscribe(() => {
    const s = o.client.getSnapshot()
    if (!launched && s.isLoaded !== false) {
      launched = true
      if (s.isSignedIn && (o.lockOnLaunch ?? true) && !state.locked) set({ locked: true })
    }
    if (s.locked && !state.locked) set({ locked: true })
    if (!s.isSignedIn && state.locked) set({ locked: false })
  })

  async function prompt(): Promise<'ok' | 'invalidated'> {
    let timer: unknown
    const timeout = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(() => {
        void o.authenticator?.cancelAuthenticate?.().catch(() => {})
        reject(
          new TesseraNativeError('biometric_failed', 'the biometric prompt timed out', {
            reason: 'timeout',
          }),
        )
      }, timeoutMs)
    })
    const ask = async (): Promise<'ok' | 'invalidated'> => {
      if (o.key) return o.key.read()
      const r = await o.authenticator!.authenticateAsync({
        ...(o.promptMessage !== undefined ? { promptMessage: o.promptMessage } : {}),
        ...(o.cancelLabel !== undefined ? { cancelLabel: o.cancelLabel } : {}),
        disableDeviceFallback: !(o.allowDeviceCredential ?? false),
      })
      if (r.success) return 'ok'
      throw new TesseraNativeError('biometric_failed', `biometric unlock failed: ${r.error}`, {
        reason: r.error,
      })
    }
    try {
      return await Promise.race([ask(), timeout])
    } finally {
      clock.clearTimeout(timer)
    }
  }

  function run(): Promise<void> {
    if (inflight) return inflight
    const now = clock.now()
    if (state.retryAt !== null && now < state.retryAt) {
      return Promise.reject(
        new TesseraNativeError('biometric_backoff', 'too many failed attempts: try again later', {
          retryAfterMs: state.retryAt - now,
        }),
      )
    }
    set({ authenticating: true })
    inflight = (async () => {
      try {
        let outcome: 'ok' | 'invalidated'
        try {
          outcome = await prompt()
        } catch (err) {
          const e =
            err instanceof TesseraNativeError
              ? err
              : new TesseraNativeError('biometric_failed', `biometric unlock failed`, {
                  cause: err,
                  reason: messageOf(err),
                })
          const failures = state.failures + 1
          const delay = Math.min(maxMs, baseMs * 2 ** (failures - 1))
          set({ failures, retryAt: clock.now() + delay })
          throw e
        }
        if (outcome === 'invalidated') {
          set({ biometryChanged: true, locked: false, failures: 0, retryAt: null })
          await o.key?.remove().catch(() => {})
          await o.client.signOut().catch(() => {})
          throw new TesseraNativeError(
            'biometry_changed',
            'the enrolled biometrics changed: sign in again',
          )
        }
        set({ failures: 0, retryAt: null, locked: false })
        if (o.client.getSnapshot().locked) o.client.unlock()
      } finally {
        inflight = undefined
        set({ authenticating: false })
      }
    })()
    return inflight
  }

  return {
    getState: () => state,
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    unlock: run,
    async confirm() {
      if (o.deviceIntegrity) {
        const result = await o.deviceIntegrity.check()
        if (result.compromised && o.compromisedPolicy?.(result) === 'refuse') {
          throw new TesseraNativeError(
            'device_compromised',
            'this action is not allowed on this device',
          )
        }
      }
      await run()
    },
    lock() {
      if (o.client.getSnapshot().isSignedIn) set({ locked: true })
    },
    dispose() {
      unsubscribe()
      listeners.clear()
    },
  }
}
