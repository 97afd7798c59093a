/**
 * An in-memory expo-secure-store (57.0.4) for tests, faithful to what the module documents and
 * does (read from its sources in node_modules/expo-secure-store):
 *
 * - keys must match /^[\w.-]+$/ (JS layer, same message); values must be strings;
 * - a missing key reads as null; deleting a missing key succeeds;
 * - items are kept per `keychainService`;
 * - `maxValueBytes` (default 2048): the limit the docs gave; the module no longer checks it, but
 *   the platform may refuse large values, so the stand-in refuses them (Android `WriteException`
 *   wording, code ERR_WRITE) and a chunking bug fails loudly;
 * - `lockUntilFirstUnlock()`: before the first unlock after a reboot, iOS refuses the keychain with
 *   errSecInteractionNotAllowed (ERR_KEY_CHAIN, "User interaction is not allowed.");
 * - `corrupt(key)`: the item cannot be decrypted any more (a restored backup or a reinstall on
 *   Android: ERR_DECRYPT, "Could not decrypt the value for key ...");
 * - `killAfterWrites(n)`: the app dies after n more successful writes; every later call rejects
 *   and never reaches the store, like calls of a process that is gone;
 * - `relaunch()`: a new process on the same device data (the keychain survives, and on iOS even an
 *   uninstall);
 * - `requireAuthentication`: reading such an item prompts (`prompt`: 'success' | 'cancel'; iOS
 *   errSecUserCanceled is ERR_KEY_CHAIN "User canceled the operation."); after
 *   `enrollmentChanged()` the system has invalidated its key and the read resolves null, as the
 *   module documents.
 */
export class FakeSecureStore {
  readonly WHEN_UNLOCKED_THIS_DEVICE_ONLY = 6
  readonly AFTER_FIRST_UNLOCK = 0
  maxValueBytes = 2048
  readonly data: Map<
    string,
    { value: string; accessible: number | undefined; auth?: boolean; enrollment?: number }
  >
  prompt: 'success' | 'cancel' = 'success'
  prompts = 0
  enrollment = { n: 1 }
  readonly log: string[] = []
  #locked = false
  #corrupt = new Set<string>()
  #writesLeft = Infinity
  #dead = false
  writes = 0

  constructor(data: FakeSecureStore['data'] = new Map()) {
    this.data = data
  }

  enrollmentChanged(): void {
    this.enrollment.n++
  }

  /** The same device after the app was killed and started again. */
  relaunch(): FakeSecureStore {
    const next = new FakeSecureStore(this.data)
    next.maxValueBytes = this.maxValueBytes
    next.#corrupt = this.#corrupt
    next.enrollment = this.enrollment
    return next
  }

  lockUntilFirstUnlock(): void {
    this.#locked = true
  }

  unlock(): void {
    this.#locked = false
  }

  corrupt(key: string, service = ''): void {
    this.#corrupt.add(`${service}|${key}`)
  }

  killAfterWrites(n: number): void {
    this.#writesLeft = n
  }

  /** Item names, for assertions (without the service). */
  keys(): string[] {
    return [...this.data.keys()].map((k) => k.slice(k.indexOf('|') + 1)).sort()
  }

  #check(key: string): string {
    if (typeof key !== 'string' || !/^[\w.-]+$/.test(key)) {
      throw new Error(
        'Invalid key provided to SecureStore. Keys must not be empty and contain only alphanumeric characters, ".", "-", and "_".',
      )
    }
    return key
  }

  #alive(): void {
    if (this.#dead) throw coded('ERR_APP_KILLED', 'the app process was killed')
  }

  #open(): void {
    if (this.#locked) throw coded('ERR_KEY_CHAIN', 'User interaction is not allowed.')
  }

  async getItemAsync(key: string, options: { keychainService?: string } = {}) {
    await tick()
    this.#alive()
    this.#check(key)
    this.#open()
    const id = `${options.keychainService ?? ''}|${key}`
    this.log.push(`get ${key}`)
    const item = this.data.get(id)
    if (!item) return null
    if (item.auth) {
      if (item.enrollment !== this.enrollment.n) return null
      this.prompts++
      if (this.prompt === 'cancel') throw coded('ERR_KEY_CHAIN', 'User canceled the operation.')
    }
    if (this.#corrupt.has(id)) {
      throw coded(
        'ERR_DECRYPT',
        `Could not decrypt the value for key '${key}' under keychain '${options.keychainService ?? 'key_v1'}'. Caused by: javax.crypto.AEADBadTagException`,
      )
    }
    return item.value
  }

  async setItemAsync(
    key: string,
    value: string,
    options: {
      keychainService?: string
      keychainAccessible?: number
      requireAuthentication?: boolean
    } = {},
  ) {
    await tick()
    this.#alive()
    this.#check(key)
    if (typeof value !== 'string') {
      throw new Error(
        'Invalid value provided to SecureStore. Values must be strings; consider JSON-encoding your values if they are serializable.',
      )
    }
    this.#open()
    const bytes = Buffer.byteLength(value, 'utf8')
    if (bytes > this.maxValueBytes) {
      throw coded(
        'ERR_WRITE',
        `An error occurred when writing to key: '${key}' under keychain: '${options.keychainService ?? 'key_v1'}'. Caused by: value of ${bytes} bytes is over the platform limit`,
      )
    }
    if (this.#writesLeft <= 0) {
      this.#dead = true
      throw coded('ERR_APP_KILLED', 'the app process was killed')
    }
    this.#writesLeft--
    const id = `${options.keychainService ?? ''}|${key}`
    this.#corrupt.delete(id)
    this.data.set(id, {
      value,
      accessible: options.keychainAccessible,
      ...(options.requireAuthentication ? { auth: true, enrollment: this.enrollment.n } : {}),
    })
    this.writes++
    this.log.push(`set ${key}`)
  }

  async deleteItemAsync(key: string, options: { keychainService?: string } = {}) {
    await tick()
    this.#alive()
    this.#check(key)
    this.#open()
    const id = `${options.keychainService ?? ''}|${key}`
    this.#corrupt.delete(id)
    this.data.delete(id)
    this.log.push(`delete ${key}`)
  }
}

export function coded(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code })
}

/** Native calls answer on a later turn of the event loop, never synchronously. */
function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r))
}
