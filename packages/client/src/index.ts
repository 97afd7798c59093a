/**
 * `@tessera/client`: the framework-agnostic session SDK of Tessera for browsers, React Native
 * and Node.
 *
 * @example
 * import { createTesseraClient, indexedDbStorage, browserLifecycle, browserTabSync } from '@tessera/client'
 * const client = createTesseraClient({
 *   issuer: 'https://auth.example.com',
 *   clientId: 'web-app',
 *   redirectUri: location.origin + '/callback',
 *   apis: [{ baseUrl: 'https://api.example.com', audience: 'https://api.example.com' }],
 *   storage: indexedDbStorage(),
 *   tabs: browserTabSync(),
 *   lifecycle: browserLifecycle(),
 *   navigate: (url) => location.assign(url),
 *   currentUrl: () => location.href,
 * })
 */
export {
  createTesseraClient,
  TesseraClient,
  saysInvalidToken,
  stepUpChallenge,
  type GetTokenOptions,
  type StepUpOptions,
  type SignInOptions,
  type SignOutOptions,
  type CallbackResult,
} from './client/tessera-client.js'
export type { TesseraClientOptions, ApiConfig } from './client/options.js'
export type { DpopAgent, DpopBinding, DpopClient, DpopClock } from './dpop/dpop-binding.js'
export {
  TesseraClientError,
  isTerminal,
  isTransient,
  type TesseraClientErrorCode,
  type TesseraClientErrorOptions,
} from './errors.js'
export {
  INITIAL_SNAPSHOT,
  type SessionSnapshot,
  type SessionStatus,
  type SignedOutReason,
} from './session/session-state.js'
export type { DiagnosticEvent, DiagnosticListener } from './diagnostics.js'
export { memoryStorage, type TesseraStorage } from './storage/storage.js'
export { indexedDbStorage, type IndexedDbStorageOptions } from './storage/indexed-db-storage.js'
export {
  browserLifecycle,
  type Lifecycle,
  type LifecycleEvent,
  type BrowserLifecycleTarget,
} from './lifecycle/lifecycle.js'
export {
  localTabSync,
  browserTabSync,
  type TabSync,
  type TabMessage,
  type BrowserTabSyncOptions,
  type BrowserTabSyncEnvironment,
} from './tabs/tab-sync.js'
export { systemClock, type Clock } from './lib/clock.js'
export { webCrypto, type CryptoProvider, type WebCryptoLike } from './lib/crypto.js'
export type { FetchLike } from './http/http.js'
export {
  attachAxios,
  type AxiosLikeInstance,
  type AxiosLikeRequestConfig,
  type AxiosLikeResponse,
  type AxiosLikeError,
} from './http/axios.js'
export type { ServerMetadata } from './oauth/metadata.js'
export type { IdTokenClaims } from './oauth/id-token.js'
export type { BackoffOptions } from './lib/backoff.js'
export type {
  BroadcastChannelLike,
  EventTargetLike,
  FetchInit,
  FetchInput,
  FetchResponse,
  HeadersLike,
  IdbFactoryLike,
  Jwk,
  ListenerLike,
  LockManagerLike,
  PlatformBroadcastChannel,
  PlatformIDBFactory,
  PlatformLockManager,
  PlatformStorage,
  PlatformSubtle,
  PlatformURL,
  RequestInitLike,
  RequestLike,
  ResponseLike,
  SearchParamsLike,
  StorageLike,
  SubtleLike,
  UrlLike,
} from './platform-types.js'
