import type { PlatformIDBFactory } from '../platform-types.js'
import { idbOpener } from './idb-open.js'
import type { TesseraStorage } from './storage.js'

export interface IndexedDbStorageOptions {
  /** Database name. Default `tessera`. */
  databaseName?: string
  /** The IndexedDB factory. Default `globalThis.indexedDB`. */
  indexedDB?: PlatformIDBFactory
}

const STORE = 'kv'

/**
 * Browser storage in IndexedDB: shared by every tab of the origin (so one refresh serves them
 * all), kept across reloads, and never in `localStorage` (SDK-05). Like any storage that page
 * scripts can read, it does not protect the refresh token from script injection (XSS); the
 * HttpOnly cookie mode of the server does. Writes are single `put`s in their own transaction, so
 * each key changes atomically.
 *
 * @example
 * const client = createTesseraClient({ ..., storage: indexedDbStorage() })
 */
export function indexedDbStorage(o: IndexedDbStorageOptions = {}): TesseraStorage {
  const name = o.databaseName ?? 'tessera'
  const open = idbOpener(name, STORE, o.indexedDB)

  const run = async <T>(
    mode: IDBTransactionMode,
    op: (s: IDBObjectStore) => IDBRequest,
  ): Promise<T> => {
    const d = await open()
    return new Promise<T>((resolve, reject) => {
      const tx = d.transaction(STORE, mode)
      const req = op(tx.objectStore(STORE))
      let result: unknown
      req.onsuccess = () => {
        result = req.result
      }
      tx.oncomplete = () => resolve(result as T)
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'))
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'))
    })
  }

  return {
    async get(key) {
      const v = await run<unknown>('readonly', (s) => s.get(key))
      return typeof v === 'string' ? v : null
    },
    async set(key, value) {
      await run('readwrite', (s) => s.put(value, key))
    },
    async remove(key) {
      await run('readwrite', (s) => s.delete(key))
    },
  }
}
