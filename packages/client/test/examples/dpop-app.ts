/**
 * A browser app with sender-constrained tokens (README "DPoP"): the server registers the client
 * with `dpop: 'required'`; the key pair lives in IndexedDB, non-extractable. Type-checked with
 * the tests; not run.
 */
import { createTesseraClient, indexedDbStorage } from '@tessera/client'
import { browserDpop, dpopSigner, type DpopKeys } from '@tessera/client/dpop'

const client = createTesseraClient({
  issuer: 'https://auth.example.com',
  clientId: 'web-app',
  redirectUri: location.origin + '/callback',
  apis: [{ baseUrl: 'https://api.example.com', audience: 'https://api.example.com' }],
  storage: indexedDbStorage(),
  dpop: browserDpop(), // one ES256 key per issuer and client, deleted at sign-out
})
// Authorization: DPoP <token>, with a DPoP proof of this request
const res = await client.fetch('https://api.example.com/orders')

/** React Native and others: keys of your own (e.g. in the Secure Enclave), signing ES256. */
declare const nativeKeys: DpopKeys
declare const nativeCrypto: {
  getRandomValues(bytes: Uint8Array): Uint8Array
  sha256(data: Uint8Array): Promise<Uint8Array>
}
export const nativeClient = createTesseraClient({
  issuer: 'https://auth.example.com',
  clientId: 'mobile-app',
  redirectUri: 'com.example.app:/callback',
  dpop: dpopSigner(nativeKeys, { crypto: nativeCrypto }),
})
export { res }
