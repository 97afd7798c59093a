/**
 * Where the client keeps its session: the refresh token, access tokens per audience, the ID token
 * and the sign-in transaction. Values are JSON strings; each `set` replaces one key whole, so an
 * adapter only has to make a single-key write atomic (a Keychain item, an IndexedDB put).
 *
 * Implementations: `memoryStorage()` (Node, tests, the most conservative browser choice),
 * `indexedDbStorage()` (browsers: shared by the tabs of one origin, survives reloads, never
 * `localStorage`), and on React Native a Keychain / Keystore adapter (SDK-05).
 */
export interface TesseraStorage {
  /** The value at `key`, or null when there is none. Rejects when the store cannot be read. */
  get(key: string): Promise<string | null>
  set(key: string, value: string): Promise<void>
  remove(key: string): Promise<void>
}

/**
 * Keeps everything in this JS context's memory. Nothing survives a reload or a restart, and tabs
 * do not share it: each tab signs in (silently, through the server's SSO session) on its own.
 *
 * @example
 * const client = createTesseraClient({ ..., storage: memoryStorage() })
 */
export function memoryStorage(): TesseraStorage {
  const map = new Map<string, string>()
  return {
    get: (key) => Promise.resolve(map.get(key) ?? null),
    set(key, value) {
      map.set(key, value)
      return Promise.resolve()
    },
    remove(key) {
      map.delete(key)
      return Promise.resolve()
    },
  }
}
