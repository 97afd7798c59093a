import type { DpopKeyPairStore } from '../../src/dpop/index.js'

/** A DPoP key-pair store in memory whose pairs the test can look at (what the default one is,
 * with its map open). */
export function inspectableKeyPairs(): DpopKeyPairStore & { pairs: Map<string, CryptoKeyPair> } {
  const pairs = new Map<string, CryptoKeyPair>()
  return {
    pairs,
    get: (id) => Promise.resolve(pairs.get(id)),
    add: (id, pair) => {
      if (!pairs.has(id)) pairs.set(id, pair)
      return Promise.resolve(pairs.get(id)!)
    },
    delete: (id) => {
      pairs.delete(id)
      return Promise.resolve()
    },
  }
}
