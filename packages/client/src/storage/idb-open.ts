import type { PlatformIDBFactory } from '../platform-types.js'

/**
 * Opens (once) the IndexedDB database `name` with one object store `store`, for the storage and
 * DPoP key modules. A failed open is forgotten, so the next use tries again; another tab upgrading
 * the database closes this connection and the next use reopens it.
 */
export function idbOpener(
  name: string,
  store: string,
  factory: PlatformIDBFactory | undefined,
): () => Promise<IDBDatabase> {
  let db: Promise<IDBDatabase> | undefined
  return () => {
    const f = (factory ?? globalThis.indexedDB) as IDBFactory | undefined
    if (!f) return Promise.reject(new Error('IndexedDB is not available'))
    db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const req = f.open(name, 1)
      req.onupgradeneeded = () => {
        if (!req.result.objectStoreNames.contains(store)) req.result.createObjectStore(store)
      }
      req.onsuccess = () => {
        const d = req.result
        d.onversionchange = () => {
          d.close()
          db = undefined
        }
        resolve(d)
      }
      req.onerror = () => reject(req.error ?? new Error('IndexedDB open failed'))
      req.onblocked = () => reject(new Error('IndexedDB open blocked'))
    }).catch((err: unknown) => {
      db = undefined
      throw err
    })
    return db
  }
}
