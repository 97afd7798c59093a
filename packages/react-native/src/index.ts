/**
 * `@tessera/react-native`: adapters that plug React Native and Expo into `@tessera/client`.
 * Native modules are passed in by the app (`import * as SecureStore from 'expo-secure-store'`),
 * so this package imports none of them and Metro bundles only those the app uses.
 */
export { TesseraNativeError, type TesseraNativeErrorCode } from './errors.js'
export {
  secureStoreStorage,
  type SecureStoreModule,
  type SecureStoreCallOptions,
  type SecureStoreStorageOptions,
  type ClearableStorage,
} from './storage/secure-store.js'
export {
  keychainStorage,
  type KeychainModule,
  type KeychainPrompt,
  type KeychainStorageOptions,
} from './storage/keychain.js'
export {
  reactNativeLifecycle,
  expoNetworkSource,
  isOnlineState,
  type AppStateModule,
  type NetInfoModule,
  type ExpoNetworkModule,
  type NetworkStateLike,
  type ReactNativeLifecycle,
  type ReactNativeLifecycleOptions,
} from './lifecycle.js'
export {
  hermesCrypto,
  HERMES_CRYPTO_ALGS,
  type ExpoCryptoModule,
  type RandomSource,
} from './crypto.js'
export { nativeDpop, nativeDpopKeys, type NativeDpopOptions } from './dpop.js'
export {
  signInWithBrowser,
  type AuthSessionOpener,
  type AuthSessionResultLike,
  type BrowserSignInOptions,
  type LinkingModule,
} from './sign-in.js'
export {
  createBiometricGate,
  keychainBiometricKey,
  secureStoreBiometricKey,
  reactNativeBiometricsAuthenticator,
  type BiometricAuthenticator,
  type BiometricGate,
  type BiometricGateOptions,
  type BiometricGateState,
  type BiometricKey,
  type BiometricResult,
  type DeviceIntegrityCheck,
  type GateClient,
  type ReactNativeBiometricsLike,
} from './biometric-gate.js'
export {
  biometricStepUp,
  type BiometricStepUp,
  type BiometricStepUpOptions,
  type DeviceKeyIdStorage,
  type DeviceKeyModule,
  type StepUpClient,
  type StepUpResult,
} from './biometric-step-up.js'
export { useBiometricGate } from './hooks.js'
// The React bindings, so a React Native app imports one package: the provider, hooks, guard.
export * from '@tessera/react'
