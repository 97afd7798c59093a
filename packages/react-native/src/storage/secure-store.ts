import type { TesseraStorage } from '@tessera/client'
import { messageOf, nativeCode, TesseraNativeError } from '../errors.js'
import { queuesFor } from './serial.js'
import { fnv1a, splitUtf8 } from './utf8.js'

/** The options of expo-secure-store's calls that this adapter passes through. */
export interface SecureStoreCallOptions {
  keychainService?: string
  keychainAccessible?: number
  requireAuthentication?: boolean
  authenticationPrompt?: string
}

/**
 * The part of `expo-secure-store` the adapter uses (`import * as SecureStore from
 * 'expo-secure-store'` satisfies it; a type test checks that). Another module with the same three
 * calls works too.
 */
export interface SecureStoreModule {
  getItemAsync(key: string, options?: SecureStoreCallOptions): Promise<string | null>
  setItemAsync(key: string, value: string, options?: SecureStoreCallOptions): Promise<void>
  deleteItemAsync(key: string, options?: SecureStoreCallOptions): Promise<void>
  /** iOS `kSecAttrAccessibleWhenUnlockedThisDeviceOnly`: readable only while the device is
   * unlocked, never restored onto another device from a backup. */
  WHEN_UNLOCKED_THIS_DEVICE_ONLY: number
}

export interface SecureStoreStorageOptions {
  /** Largest chunk in UTF-8 bytes, at most 2048 (the limit expo-secure-store documented, above
   * which the platform may refuse a value). Default 2000. */
  chunkBytes?: number
  /** iOS keychain service / Android key alias. Default the module's default. */
  keychainService?: string
  /** iOS accessibility. Default `WHEN_UNLOCKED_THIS_DEVICE_ONLY`. */
  keychainAccessible?: number
  /** Prefix of every item this adapter writes; `clear()` removes what it wrote under it. Letters,
   * digits, `.` and `-`. Default `tessera`. */
  namespace?: string
  /** Told when an item could not be decrypted and was deleted (APP-09), or a record was found
   * torn and deleted. Never given a value. */
  onDiscard?: (event: { key: string; cause: 'undecryptable' | 'torn' }) => void
}

/** A `TesseraStorage` that can also remove everything it ever wrote (sign-out, APP-12). */
export interface ClearableStorage extends TesseraStorage {
  /** Removes every record this adapter wrote (under its namespace), chunks included. */
  clear(): Promise<void>
}

const MAX_CHUNK = 2048
const KEY_OK = /^[A-Za-z0-9.-]+$/

interface Marker {
  v: 1
  /** The slot holding the committed value. */
  s: 'a' | 'b'
  /** Number of chunks. */
  n: number
  /** Length in UTF-16 code units, and FNV-1a of the whole value. */
  len: number
  h: string
}

function isMarker(x: unknown): x is Marker {
  if (typeof x !== 'object' || x === null) return false
  const m = x as Record<string, unknown>
  return (
    m.v === 1 &&
    (m.s === 'a' || m.s === 'b') &&
    typeof m.n === 'number' &&
    Number.isInteger(m.n) &&
    m.n >= 1 &&
    typeof m.len === 'number' &&
    typeof m.h === 'string'
  )
}

/** Letters, digits, `.` and `-` stay; every other UTF-16 unit becomes `_xxxx` (so `_` is free to
 * mark escapes and two keys never map to one item name). */
function escapeKey(key: string): string {
  let out = ''
  for (let i = 0; i < key.length; i++) {
    const c = key[i]!
    out += /[A-Za-z0-9.-]/.test(c) ? c : '_' + key.charCodeAt(i).toString(16).padStart(4, '0')
  }
  return out
}

/** Whether a native error means "this item can never be decrypted" (Android `ERR_DECRYPT` after
 * a restore or reinstall; iOS `errSecDecode`). */
function undecryptable(err: unknown): boolean {
  const code = nativeCode(err)
  if (code === 'ERR_DECRYPT') return true
  return /could not decrypt|unable to decode the provided data/i.test(messageOf(err))
}

/**
 * Secure storage over `expo-secure-store` (Keychain on iOS, Keystore-encrypted preferences on
 * Android), for values of any size:
 *
 * - Each value is cut by UTF-8 bytes into chunks of at most `chunkBytes` (APP-07), never inside a
 *   character.
 * - Two slots per record, `a` and `b`. A write goes to the slot not in use, then commits by
 *   writing a small marker item (one native write, atomic) naming the slot, the chunk count, the
 *   length and a checksum; only then are the old slot's chunks deleted. An app killed between two
 *   chunk writes leaves the marker on the old, whole value (APP-08). Chunks left over from a
 *   longer value are deleted.
 * - An item the store cannot decrypt (restored backup, reinstall) is deleted, with the rest of its
 *   record, and reads as nothing (APP-09); so does a record whose checksum does not match.
 * - Any other native failure rejects with `storage_unavailable` (the client then keeps the session
 *   in memory and retries; a locked device never signs the user out).
 * - Items are `WHEN_UNLOCKED_THIS_DEVICE_ONLY` by default.
 *
 * @example
 * import * as SecureStore from 'expo-secure-store'
 * const storage = secureStoreStorage(SecureStore)
 * const client = createTesseraClient({ ..., storage })
 */
export function secureStoreStorage(
  store: SecureStoreModule,
  o: SecureStoreStorageOptions = {},
): ClearableStorage {
  const chunkBytes = o.chunkBytes ?? 2000
  if (!Number.isInteger(chunkBytes) || chunkBytes < 16 || chunkBytes > MAX_CHUNK) {
    throw new TesseraNativeError(
      'configuration',
      `chunkBytes must be an integer from 16 to ${MAX_CHUNK}`,
    )
  }
  const ns = o.namespace ?? 'tessera'
  if (!KEY_OK.test(ns)) {
    throw new TesseraNativeError(
      'configuration',
      'namespace may contain only letters, digits, "." and "-"',
    )
  }
  if (typeof store?.getItemAsync !== 'function') {
    throw new TesseraNativeError(
      'configuration',
      'secureStoreStorage needs the expo-secure-store module: pass `import * as SecureStore from "expo-secure-store"`',
    )
  }
  const opts: SecureStoreCallOptions = {
    keychainAccessible: o.keychainAccessible ?? store.WHEN_UNLOCKED_THIS_DEVICE_ONLY,
  }
  if (o.keychainService !== undefined) opts.keychainService = o.keychainService
  const queue = queuesFor(store)
  const lane = `${o.keychainService ?? ''}|${ns}`
  const INDEX = '\u0000index'

  const base = (key: string) => `${ns}_${key === INDEX ? 'index' : 'k' + escapeKey(key)}`
  const markerName = (key: string) => `${base(key)}.m`
  const chunkName = (key: string, slot: 'a' | 'b', i: number) => `${base(key)}.${slot}.${i}`

  const fail = (op: string, err: unknown): never => {
    if (err instanceof TesseraNativeError) throw err
    throw new TesseraNativeError('storage_unavailable', `secure store ${op} failed`, {
      cause: err,
    })
  }

  async function nativeGet(name: string): Promise<string | null> {
    return store.getItemAsync(name, opts)
  }

  /** Deletes chunks `from`, `from + 1`, ... of a slot for as long as they exist, highest first,
   * so an interrupted sweep leaves a contiguous run that the next sweep finds. */
  async function sweep(key: string, slot: 'a' | 'b', from: number): Promise<void> {
    let end = from
    for (;;) {
      let v: string | null
      try {
        v = await nativeGet(chunkName(key, slot, end))
      } catch (err) {
        if (!undecryptable(err)) throw err
        v = ''
      }
      if (v === null) break
      end++
    }
    for (let i = end - 1; i >= from; i--) await store.deleteItemAsync(chunkName(key, slot, i), opts)
  }

  async function purge(key: string): Promise<void> {
    await store.deleteItemAsync(markerName(key), opts)
    await sweep(key, 'a', 0)
    await sweep(key, 'b', 0)
  }

  async function discard(key: string, cause: 'undecryptable' | 'torn'): Promise<null> {
    try {
      await purge(key)
    } catch {
      // Deleting failed too: the next read finds the same item and tries again.
    }
    if (key !== INDEX) o.onDiscard?.({ key, cause })
    return null
  }

  async function read(key: string): Promise<string | null> {
    let raw: string | null
    try {
      raw = await nativeGet(markerName(key))
    } catch (err) {
      if (undecryptable(err)) return discard(key, 'undecryptable')
      return fail('read', err)
    }
    if (raw === null) return null
    let m: unknown
    try {
      m = JSON.parse(raw)
    } catch {
      m = null
    }
    if (!isMarker(m)) return discard(key, 'torn')
    const parts: string[] = []
    for (let i = 0; i < m.n; i++) {
      let part: string | null
      try {
        part = await nativeGet(chunkName(key, m.s, i))
      } catch (err) {
        if (undecryptable(err)) return discard(key, 'undecryptable')
        return fail('read', err)
      }
      if (part === null) return discard(key, 'torn')
      parts.push(part)
    }
    const value = parts.join('')
    if (value.length !== m.len || fnv1a(value) !== m.h) return discard(key, 'torn')
    return value
  }

  async function currentMarker(key: string): Promise<Marker | null> {
    let raw: string | null
    try {
      raw = await nativeGet(markerName(key))
    } catch (err) {
      if (undecryptable(err)) {
        await purge(key)
        return null
      }
      throw err
    }
    if (raw === null) return null
    try {
      const m: unknown = JSON.parse(raw)
      return isMarker(m) ? m : null
    } catch {
      return null
    }
  }

  async function write(key: string, value: string): Promise<void> {
    const old = await currentMarker(key)
    const slot = old?.s === 'a' ? 'b' : 'a'
    const parts = splitUtf8(value, chunkBytes)
    for (const [i, part] of parts.entries()) {
      await store.setItemAsync(chunkName(key, slot, i), part, opts)
    }
    const marker: Marker = { v: 1, s: slot, n: parts.length, len: value.length, h: fnv1a(value) }
    // The commit: one native write. Before it the old value is whole; after it the new one is.
    await store.setItemAsync(markerName(key), JSON.stringify(marker), opts)
    try {
      await sweep(key, slot, parts.length)
      if (old && old.s !== slot) {
        for (let i = old.n - 1; i >= 0; i--) {
          await store.deleteItemAsync(chunkName(key, old.s, i), opts)
        }
        await sweep(key, old.s, 0)
      }
    } catch {
      // Leftovers only; the next write to this record sweeps them.
    }
  }

  async function readIndex(): Promise<string[]> {
    const raw = await read(INDEX)
    if (raw === null) return []
    try {
      const keys: unknown = JSON.parse(raw)
      return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : []
    } catch {
      return []
    }
  }

  function checkKey(key: unknown): asserts key is string {
    if (typeof key !== 'string' || key === '') {
      throw new TesseraNativeError('invalid_key', 'storage keys must be non-empty strings')
    }
  }

  return {
    get(key) {
      checkKey(key)
      return queue.run(lane, () => read(key).catch((err) => fail('read', err)))
    },
    set(key, value) {
      checkKey(key)
      if (typeof value !== 'string') {
        return Promise.reject(new TesseraNativeError('invalid_key', 'values must be strings'))
      }
      return queue.run(lane, async () => {
        try {
          const keys = await readIndex()
          if (!keys.includes(key)) await write(INDEX, JSON.stringify([...keys, key]))
          await write(key, value)
        } catch (err) {
          fail('write', err)
        }
      })
    },
    remove(key) {
      checkKey(key)
      return queue.run(lane, async () => {
        try {
          await purge(key)
          const keys = await readIndex()
          if (keys.includes(key)) await write(INDEX, JSON.stringify(keys.filter((k) => k !== key)))
        } catch (err) {
          fail('delete', err)
        }
      })
    },
    clear() {
      return queue.run(lane, async () => {
        try {
          for (const key of await readIndex()) await purge(key)
          await purge(INDEX)
        } catch (err) {
          fail('clear', err)
        }
      })
    },
  }
}
