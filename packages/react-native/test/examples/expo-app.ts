/**
 * The smallest Expo app setup, as the README shows it (type-checked by
 * `tsc -p packages/react-native/test/types`).
 */
import NetInfo from '@react-native-community/netinfo'
import { createTesseraClient } from '@tessera/client'
import {
  createBiometricGate,
  hermesCrypto,
  reactNativeLifecycle,
  secureStoreStorage,
  signInWithBrowser,
} from '@tessera/react-native'
import * as ExpoCrypto from 'expo-crypto'
import * as LocalAuthentication from 'expo-local-authentication'
import * as SecureStore from 'expo-secure-store'
import * as WebBrowser from 'expo-web-browser'
import { AppState, Linking } from 'react-native'

const storage = secureStoreStorage(SecureStore) // Keychain / Keystore, in chunks, never AsyncStorage
export const lifecycle = reactNativeLifecycle({ appState: AppState, netInfo: NetInfo })

export const client = createTesseraClient({
  issuer: 'https://auth.example.com',
  clientId: 'mobile-app',
  redirectUri: 'com.example.app:/callback', // a private-use scheme registered for the client
  apis: [{ baseUrl: 'https://api.example.com', audience: 'https://api.example.com' }],
  storage,
  lifecycle,
  crypto: hermesCrypto(ExpoCrypto), // Hermes has no Web Crypto
  idleTimeout: { seconds: 300, action: 'lock' }, // the gate below opens it
})
client.onSignOut(() => storage.clear()) // sign-out clears every item, chunks included

export const gate = createBiometricGate({
  client,
  authenticator: LocalAuthentication,
  promptMessage: 'Unlock Example',
})

export async function signIn(): Promise<void> {
  await signInWithBrowser(client, { browser: WebBrowser, linking: Linking, returnTo: '/home' })
}

export async function orders(): Promise<unknown> {
  const res = await client.fetch('https://api.example.com/orders') // Bearer token for that API
  return res.json()
}
