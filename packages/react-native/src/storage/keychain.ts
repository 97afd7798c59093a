import { messageOf, nativeCode, TesseraNativeError } from '../errors.js'
import type { ClearableStorage } from './secure-store.js'
import { queuesFor } from './serial.js'

/** The prompt texts react-native-keychain shows for an item with access control. */
export interface KeychainPrompt {
  title?: string
  subtitle?: string
  description?: string
  cancel?: string
}

/**
 * The part of `react-native-keychain` the adapters use (`import * as Keychain from
 * 'react-native-keychain'` satisfies it; a type test checks that). `A` and `C` are the module's
 * `ACCESSIBLE` and `ACCESS_CONTROL` enums.
 */
export interface KeychainModule<A = unknown, C = unknown> {
  ACCESSIBLE: { WHEN_UNLOCKED_THIS_DEVICE_ONLY: A }
  ACCESS_CONTROL: { BIOMETRY_CURRENT_SET: C }
  setGenericPassword(
    username: string,
    password: string,
    options?: { service?: string; accessible?: A; accessControl?: C },
  ): Promise<false | { service: string }>
  getGenericPassword(options?: {
    service?: string
    authenticationPrompt?: KeychainPrompt
  }): Promise<false | { username: string; password: string }>
  resetGenericPassword(options?: { service?: string }): Promise<boolean>
  getAllGenericPasswordServices(options?: { skipUIAuth?: boolean }): Promise<string[]>
}

export interface KeychainStorageOptions {
  /** Prefix of the keychain services this adapter writes (one item per key). Default
   * `tessera:`. */
  servicePrefix?: string
  /** Bind every item to the biometrics enrolled now (`BIOMETRY_CURRENT_SET`): each read prompts,
   * and after an enrollment change the items are unreadable forever (read as nothing, deleted).
   * Default false: the items are `WHEN_UNLOCKED_THIS_DEVICE_ONLY` without access control, and
   * biometrics are checked by the gate (`createBiometricGate`) instead, which cannot loop. */
  biometryCurrentSet?: boolean
  /** The prompt for items bound to biometrics. */
  prompt?: KeychainPrompt
  /** Told when an item bound to biometrics became unreadable (enrollment changed) and was
   * deleted. */
  onInvalidated?: (event: { key: string }) => void
}

const USER = 'tessera'
/** iOS errSecUserCanceled, errSecAuthFailed; Android's cancel and failure come as
 * `E_CRYPTO_FAILED` with the BiometricPrompt's message. */
const CANCELLED = new Set(['-128'])

/** Whether react-native-keychain reports a key invalidated by an enrollment change (Android's
 * KeyPermanentlyInvalidatedException; on iOS the item then reads as not found). */
export function keychainKeyInvalidated(err: unknown): boolean {
  return /KeyPermanentlyInvalidated|key permanently invalidated/i.test(messageOf(err))
}

function promptFailure(err: unknown): TesseraNativeError | undefined {
  const code = nativeCode(err)
  const msg = messageOf(err)
  if ((code !== undefined && CANCELLED.has(code)) || /cancel/i.test(msg)) {
    return new TesseraNativeError('biometric_failed', 'the biometric prompt was cancelled', {
      cause: err,
      reason: 'user_cancel',
    })
  }
  if (code === '-25293' || /authentication failed|not recognized/i.test(msg)) {
    return new TesseraNativeError('biometric_failed', 'biometric authentication failed', {
      cause: err,
      reason: 'authentication_failed',
    })
  }
  return undefined
}

/**
 * Secure storage over `react-native-keychain`: one generic-password item per key, in a service of
 * its own, `WHEN_UNLOCKED_THIS_DEVICE_ONLY` (never in backups, unreadable while the device is
 * locked), optionally bound to the enrolled biometrics (`BIOMETRY_CURRENT_SET`). No size limit to
 * work around: each `set` is one native write, atomic.
 *
 * With `biometryCurrentSet`, a marker item without access control records that a bound item
 * exists, so an item that reads as missing while its marker is present is known to be invalidated
 * by an enrollment change (APP-10): both are deleted and the read gives nothing (the user signs in
 * again); a cancelled prompt rejects with `biometric_failed`.
 *
 * @example
 * import * as Keychain from 'react-native-keychain'
 * const storage = keychainStorage(Keychain)
 */
export function keychainStorage<A, C>(
  keychain: KeychainModule<A, C>,
  o: KeychainStorageOptions = {},
): ClearableStorage {
  if (typeof keychain?.getGenericPassword !== 'function') {
    throw new TesseraNativeError(
      'configuration',
      'keychainStorage needs react-native-keychain: pass `import * as Keychain from "react-native-keychain"`',
    )
  }
  const prefix = o.servicePrefix ?? 'tessera:'
  const bound = o.biometryCurrentSet === true
  const queue = queuesFor(keychain)
  const service = (key: string) => prefix + key
  const flag = (key: string) => prefix + key + '#present'

  const fail = (op: string, err: unknown): never => {
    if (err instanceof TesseraNativeError) throw err
    throw new TesseraNativeError('storage_unavailable', `keychain ${op} failed`, { cause: err })
  }

  async function removeKey(key: string): Promise<void> {
    await keychain.resetGenericPassword({ service: service(key) })
    if (bound) await keychain.resetGenericPassword({ service: flag(key) })
  }

  async function invalidated(key: string): Promise<null> {
    try {
      await removeKey(key)
    } catch {
      // The next read tries again.
    }
    o.onInvalidated?.({ key })
    return null
  }

  async function read(key: string): Promise<string | null> {
    let got: false | { password: string }
    try {
      got = await keychain.getGenericPassword({
        service: service(key),
        ...(o.prompt ? { authenticationPrompt: o.prompt } : {}),
      })
    } catch (err) {
      if (bound && keychainKeyInvalidated(err)) return invalidated(key)
      const prompt = bound ? promptFailure(err) : undefined
      if (prompt) throw prompt
      return fail('read', err)
    }
    if (got !== false) return got.password
    if (bound) {
      const present = await keychain.getGenericPassword({ service: flag(key) })
      if (present !== false) return invalidated(key)
    }
    return null
  }

  const check = (key: unknown): key is string => typeof key === 'string' && key !== ''
  const badKey = () =>
    Promise.reject(new TesseraNativeError('invalid_key', 'storage keys must be non-empty strings'))

  return {
    get(key) {
      if (!check(key)) return badKey()
      return queue.run(prefix, () => read(key))
    },
    set(key, value) {
      if (!check(key)) return badKey()
      return queue.run(prefix, async () => {
        try {
          if (bound) {
            await keychain.setGenericPassword(USER, '1', {
              service: flag(key),
              accessible: keychain.ACCESSIBLE.WHEN_UNLOCKED_THIS_DEVICE_ONLY,
            })
          }
          const ok = await keychain.setGenericPassword(USER, value, {
            service: service(key),
            accessible: keychain.ACCESSIBLE.WHEN_UNLOCKED_THIS_DEVICE_ONLY,
            ...(bound ? { accessControl: keychain.ACCESS_CONTROL.BIOMETRY_CURRENT_SET } : {}),
          })
          if (ok === false) throw new Error('setGenericPassword returned false')
        } catch (err) {
          fail('write', err)
        }
      })
    },
    remove(key) {
      if (!check(key)) return badKey()
      return queue.run(prefix, () => removeKey(key).catch((err) => fail('delete', err)))
    },
    clear() {
      return queue.run(prefix, async () => {
        try {
          const all = await keychain.getAllGenericPasswordServices({ skipUIAuth: true })
          for (const s of all) {
            if (s.startsWith(prefix)) await keychain.resetGenericPassword({ service: s })
          }
        } catch (err) {
          fail('clear', err)
        }
      })
    },
  }
}
