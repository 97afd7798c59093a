/**
 * `@tessera/react-native`: adapters that plug React Native and Expo into `@tessera/client`.
 * Native modules are passed in by the app (`import * as SecureStore from 'expo-secure-store'`),
 * so this package imports none of them and Metro bundles only those the app uses.
 */
export {
  TesseraNativeError,
  type TesseraNativeErrorCode,
} from './errors.js'
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
