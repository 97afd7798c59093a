import type { Jwk } from '../platform-types.js'
import type { DpopKey, DpopKeys } from './dpop-signer.js'

/** Where `webCryptoDpopKeys` keeps its key pairs: a structured-clone store such as IndexedDB. */
export interface DpopKeyPairStore {
  get(id: string): Promise<CryptoKeyPair | undefined>
  /** Keeps `pair` under `id` unless a pair is there already; resolves the pair kept. */
  add(id: string, pair: CryptoKeyPair): Promise<CryptoKeyPair>
  delete(id: string): Promise<void>
}

export interface WebCryptoDpopKeysOptions {
  /** Default `globalThis.crypto.subtle`. */
  subtle?: SubtleCrypto
  /** Default in memory: the key lives as long as the process (Node, tests). */
  store?: DpopKeyPairStore
}

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' }

/**
 * ES256 DPoP keys made with Web Crypto, non-extractable (`extractable: false`): the private key
 * can sign but no script can read it out, not even one injected into the page. The pairs are kept
 * in `store` (in memory by default; `browserDpop()` uses IndexedDB, where the structured clone
 * of a `CryptoKey` stays non-extractable).
 *
 * @example
 * const dpop = dpopSigner(webCryptoDpopKeys()) // Node, Deno, Bun
 */
export function webCryptoDpopKeys(o: WebCryptoDpopKeysOptions = {}): DpopKeys {
  const memory = new Map<string, CryptoKeyPair>()
  const store: DpopKeyPairStore = o.store ?? {
    get: (id) => Promise.resolve(memory.get(id)),
    add: (id, pair) => {
      if (!memory.has(id)) memory.set(id, pair)
      return Promise.resolve(memory.get(id)!)
    },
    delete: (id) => {
      memory.delete(id)
      return Promise.resolve()
    },
  }
  const subtle = () => o.subtle ?? globalThis.crypto.subtle
  return {
    async key(id) {
      const pair =
        (await store.get(id)) ??
        (await store.add(id, await subtle().generateKey(ECDSA_P256, false, ['sign', 'verify'])))
      const { kty, crv, x, y } = (await subtle().exportKey('jwk', pair.publicKey)) as Jwk
      return {
        alg: 'ES256',
        jwk: { kty, crv, x, y },
        async sign(data) {
          const sig = await subtle().sign(
            { name: 'ECDSA', hash: 'SHA-256' },
            pair.privateKey,
            data as Uint8Array<ArrayBuffer>,
          )
          return new Uint8Array(sig)
        },
      } satisfies DpopKey
    },
    discard: (id) => store.delete(id),
  }
}
