import type { PlatformIDBFactory } from '../platform-types.js'
import { idbOpener } from '../storage/idb-open.js'
import type { DpopBinding } from './dpop-binding.js'
import { dpopSigner, type DpopSignerOptions } from './dpop-signer.js'
import { webCryptoDpopKeys, type DpopKeyPairStore } from './web-crypto-dpop-keys.js'

export interface BrowserDpopOptions extends DpopSignerOptions {
  /** Database name. Default `tessera-dpop`. */
  databaseName?: string
  /** The IndexedDB factory. Default `globalThis.indexedDB`. */
  indexedDB?: PlatformIDBFactory
  /** Default `globalThis.crypto.subtle`. */
  subtle?: SubtleCrypto
}

const STORE = 'keys'

/**
 * DPoP (RFC 9449) in the browser: an ES256 key pair made with Web Crypto as non-extractable,
 * kept as a `CryptoKeyPair` in IndexedDB (its structured clone stays non-extractable), so it
 * survives reloads and is shared by the tabs of the origin, while no script can read the private
 * key out. One key per issuer and client; it is deleted when the session ends (sign-out,
 * revocation, expiry) and the next sign-in makes a new one.
 *
 * @example
 * import { browserDpop } from '@tessera/client/dpop'
 * const client = createTesseraClient({ ...options, storage: indexedDbStorage(), dpop: browserDpop() })
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-2
 */
export function browserDpop(o: BrowserDpopOptions = {}): DpopBinding {
  return dpopSigner(
    webCryptoDpopKeys({
      ...(o.subtle ? { subtle: o.subtle } : {}),
      store: indexedDbKeyPairs(o.databaseName ?? 'tessera-dpop', o.indexedDB),
    }),
    o,
  )
}

/** Key pairs in IndexedDB, each change in one transaction. */
export function indexedDbKeyPairs(name: string, factory?: PlatformIDBFactory): DpopKeyPairStore {
  const open = idbOpener(name, STORE, factory)
  const run = async <T>(
    mode: IDBTransactionMode,
    op: (s: IDBObjectStore, done: (v: T) => void) => void,
  ): Promise<T> => {
    const d = await open()
    return new Promise<T>((resolve, reject) => {
      const tx = d.transaction(STORE, mode)
      let value: T
      op(tx.objectStore(STORE), (v) => (value = v))
      tx.oncomplete = () => resolve(value)
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'))
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'))
    })
  }
  return {
    get: (id) =>
      run('readonly', (s, done) => {
        const r = s.get(id)
        r.onsuccess = () => done(r.result as CryptoKeyPair | undefined)
      }),
    // Read and write in one transaction: two tabs making a key at once keep the same one.
    add: (id, pair) =>
      run('readwrite', (s, done) => {
        const r = s.get(id)
        r.onsuccess = () => {
          if (r.result) return done(r.result as CryptoKeyPair)
          s.put(pair, id)
          done(pair)
        }
      }),
    delete: (id) => run('readwrite', (s) => s.delete(id)),
  }
}
