/**
 * Type test: the real modules' exported types satisfy the adapter interfaces, so a module whose
 * API changes breaks this build instead of an app (checked by `tsc -p packages/react-native/test`).
 */
import NetInfo from '@react-native-community/netinfo'
import * as ExpoCrypto from 'expo-crypto'
import * as ExpoLinking from 'expo-linking'
import * as LocalAuthentication from 'expo-local-authentication'
import * as Network from 'expo-network'
import * as SecureStore from 'expo-secure-store'
import * as WebBrowser from 'expo-web-browser'
import { AppState, Linking } from 'react-native'
import type * as RNBiometrics from 'react-native-biometrics'
import * as Keychain from 'react-native-keychain'
import type {
  AppStateModule,
  AuthSessionOpener,
  BiometricAuthenticator,
  DeviceKeyModule,
  ExpoCryptoModule,
  ExpoNetworkModule,
  KeychainModule,
  LinkingModule,
  NetInfoModule,
  ReactNativeBiometricsLike,
  SecureStoreModule,
} from '../../src/index.js'

export const secureStore: SecureStoreModule = SecureStore
export const keychain: KeychainModule<Keychain.ACCESSIBLE, Keychain.ACCESS_CONTROL> = Keychain
export const expoCrypto: ExpoCryptoModule = ExpoCrypto
export const localAuthentication: BiometricAuthenticator = LocalAuthentication
export const webBrowser: AuthSessionOpener = WebBrowser
export const netInfo: NetInfoModule = NetInfo
export const expoNetwork: ExpoNetworkModule = Network
export const appState: AppStateModule = AppState
export const linking: LinkingModule = Linking
export const expoLinking: LinkingModule = ExpoLinking
// react-native-biometrics ships ESM declarations in a package without `"type": "module"`, so
// TypeScript reads them as CommonJS: its class is the namespace's `default`.
declare const rnb: RNBiometrics.default
export const deviceKeys: DeviceKeyModule = rnb
export const rnbPrompt: ReactNativeBiometricsLike = rnb
