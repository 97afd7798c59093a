/**
 * An Expo app with DPoP-bound tokens, as the README shows it (type-checked by
 * `tsc -p packages/react-native/test/examples`).
 */
import { createTesseraClient } from '@tessera/client'
import { hermesCrypto, nativeDpop, secureStoreStorage } from '@tessera/react-native'
import * as ExpoCrypto from 'expo-crypto'
import * as SecureStore from 'expo-secure-store'

const crypto = hermesCrypto(ExpoCrypto)

export const client = createTesseraClient({
  issuer: 'https://auth.example.com',
  clientId: 'mobile-app',
  redirectUri: 'com.example.app:/callback',
  apis: [{ baseUrl: 'https://api.example.com', audience: 'https://api.example.com' }],
  storage: secureStoreStorage(SecureStore),
  crypto,
  // One ES256 key per issuer and client, kept in the Keychain / Keystore, deleted at sign-out.
  dpop: nativeDpop({
    storage: secureStoreStorage(SecureStore, { namespace: 'tessera-dpop' }),
    crypto,
  }),
})

export async function orders(): Promise<unknown> {
  const res = await client.fetch('https://api.example.com/orders') // Authorization: DPoP + proof
  return res.json()
}
