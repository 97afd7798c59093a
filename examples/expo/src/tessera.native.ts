/**
 * The Tessera client on iOS and Android: the session in the Keychain / Keystore through
 * expo-secure-store (in chunks, crash-safe), AppState and expo-network as the lifecycle, the
 * crypto Hermes lacks, sign-in in the system browser with a private-use scheme redirect, and a
 * biometric gate that unlocks on launch and after the idle timeout.
 */
import { createTesseraClient } from '@tessera/client'
import {
  createBiometricGate,
  expoNetworkSource,
  hermesCrypto,
  reactNativeLifecycle,
  secureStoreStorage,
  signInWithBrowser,
} from '@tessera/react-native'
import * as ExpoCrypto from 'expo-crypto'
import * as LocalAuthentication from 'expo-local-authentication'
import * as Network from 'expo-network'
import * as SecureStore from 'expo-secure-store'
import * as WebBrowser from 'expo-web-browser'
import { AppState, Linking } from 'react-native'
import type { TesseraApp } from './app-types'
import { APIS, CLIENT_ID, ISSUER, NATIVE_REDIRECT_URI } from './config'

const storage = secureStoreStorage(SecureStore) // never AsyncStorage for tokens
const lifecycle = reactNativeLifecycle({ appState: AppState, netInfo: expoNetworkSource(Network) })

export const client = createTesseraClient({
  issuer: ISSUER,
  clientId: CLIENT_ID,
  redirectUri: NATIVE_REDIRECT_URI,
  apis: [APIS.orders, APIS.billing],
  storage,
  lifecycle,
  crypto: hermesCrypto(ExpoCrypto),
  idleTimeout: { seconds: 300, action: 'lock' }, // the gate opens this lock too
})
client.onSignOut(() => void storage.clear()) // every item, chunks included

const gate = createBiometricGate({
  client,
  authenticator: LocalAuthentication,
  promptMessage: 'Unlock the Tessera example',
  allowDeviceCredential: true, // the device passcode when biometrics fail or are not enrolled
})

export const app: TesseraApp = {
  platform: 'native',
  client,
  gate,
  async signIn(returnTo) {
    await signInWithBrowser(client, { browser: WebBrowser, linking: Linking, returnTo })
    return 'signed-in'
  },
  // The redirect comes back to signInWithBrowser; the /callback route only leaves.
  finishRedirect: () => Promise.resolve(null),
  activity: () => lifecycle.activity(),
}
