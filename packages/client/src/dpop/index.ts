/**
 * `@tessera/client/dpop`: sender-constrained tokens (DPoP, RFC 9449) for `@tessera/client`, in a
 * module of its own so that apps without DPoP carry none of it.
 *
 * @example
 * import { createTesseraClient, indexedDbStorage } from '@tessera/client'
 * import { browserDpop } from '@tessera/client/dpop'
 * const client = createTesseraClient({
 *   issuer: 'https://auth.example.com',
 *   clientId: 'web-app',
 *   redirectUri: location.origin + '/callback',
 *   storage: indexedDbStorage(),
 *   dpop: browserDpop(),
 * })
 * @see https://www.rfc-editor.org/rfc/rfc9449
 */
export { browserDpop, indexedDbKeyPairs, type BrowserDpopOptions } from './browser-dpop.js'
export { dpopSigner, type DpopKey, type DpopKeys, type DpopSignerOptions } from './dpop-signer.js'
export {
  webCryptoDpopKeys,
  type DpopKeyPairStore,
  type WebCryptoDpopKeysOptions,
} from './web-crypto-dpop-keys.js'
export type { DpopAgent, DpopBinding, DpopClient, DpopClock } from './dpop-binding.js'
