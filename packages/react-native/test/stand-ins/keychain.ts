import { coded } from './secure-store.js'

/**
 * An in-memory react-native-keychain (10.0.0) as it behaves on iOS (read from its sources in
 * node_modules/react-native-keychain/ios): generic passwords per service; a missing item reads as
 * `false` and resetting it resolves; errors reject with the OSStatus as `code` and the module's
 * message; items with `BiometryCurrentSet` access control prompt on read (`prompt` answers:
 * 'success' | 'cancel' | 'fail') and become unreadable when the enrolled biometrics change
 * (`enrollmentChanged()`: SecItemCopyMatching then finds nothing, so the read resolves `false`);
 * `lockUntilFirstUnlock()` rejects every call with errSecInteractionNotAllowed. The keychain
 * survives an uninstall: `relaunch()` keeps the items.
 */
export class FakeKeychain {
  readonly ACCESSIBLE = {
    WHEN_UNLOCKED_THIS_DEVICE_ONLY: 'AccessibleWhenUnlockedThisDeviceOnly',
  } as const
  readonly ACCESS_CONTROL = { BIOMETRY_CURRENT_SET: 'BiometryCurrentSet' } as const
  readonly items: Map<
    string,
    { username: string; password: string; accessible?: string; accessControl?: string; set: number }
  >
  prompt: 'success' | 'cancel' | 'fail' = 'success'
  prompts = 0
  #enrollment = 1
  #locked = false

  constructor(items?: FakeKeychain['items']) {
    this.items = items ?? new Map()
  }

  relaunch(): FakeKeychain {
    const k = new FakeKeychain(this.items)
    k.#enrollment = this.#enrollment
    return k
  }

  enrollmentChanged(): void {
    this.#enrollment++
  }

  lockUntilFirstUnlock(): void {
    this.#locked = true
  }

  unlock(): void {
    this.#locked = false
  }

  #open(): void {
    if (this.#locked) throw coded('-25308', 'User interaction is not allowed.')
  }

  async setGenericPassword(
    username: string,
    password: string,
    options: { service?: string; accessible?: string; accessControl?: string } = {},
  ): Promise<false | { service: string; storage: 'keychain' }> {
    await tick()
    this.#open()
    const service = options.service ?? 'default'
    this.items.set(service, {
      username,
      password,
      accessible: options.accessible,
      accessControl: options.accessControl,
      set: this.#enrollment,
    })
    return { service, storage: 'keychain' }
  }

  async getGenericPassword(
    options: { service?: string } = {},
  ): Promise<false | { username: string; password: string; service: string; storage: 'keychain' }> {
    await tick()
    this.#open()
    const service = options.service ?? 'default'
    const item = this.items.get(service)
    if (!item) return false
    if (item.accessControl === this.ACCESS_CONTROL.BIOMETRY_CURRENT_SET) {
      // An item bound to another enrollment is invisible: errSecItemNotFound resolves false.
      if (item.set !== this.#enrollment) return false
      this.prompts++
      if (this.prompt === 'cancel') throw coded('-128', 'User canceled the operation.')
      if (this.prompt === 'fail')
        throw coded('-25293', 'The user name or passphrase you entered is not correct.')
    }
    return { username: item.username, password: item.password, service, storage: 'keychain' }
  }

  async resetGenericPassword(options: { service?: string } = {}): Promise<boolean> {
    await tick()
    this.#open()
    this.items.delete(options.service ?? 'default')
    return true
  }

  async getAllGenericPasswordServices(): Promise<string[]> {
    await tick()
    this.#open()
    return [...this.items.keys()]
  }
}

function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r))
}
