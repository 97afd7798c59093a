/**
 * `@tessera/server`: an OAuth 2.1 / OpenID Connect session server.
 *
 * @example
 * ```ts
 * import { createTesseraServer, resolveConfig } from '@tessera/server'
 *
 * const config = resolveConfig({ issuer: 'https://auth.example.com', secret: process.env.SECRET })
 * const server = await createTesseraServer({ config })
 * await server.listen()
 * ```
 */
export { createTesseraServer } from './server.js'
export type {
  CreateServerOptions,
  InternalListener,
  InternalRole,
  ServerHooks,
  TesseraServer,
} from './server.js'
export { resolveConfig } from './config/resolve.js'
export type { ConfigInput } from './config/resolve.js'
export { loadConfig } from './config/load.js'
export type { LoadConfigOptions } from './config/load.js'
export { ConfigError } from './config/config.js'
export type {
  ApiConfig,
  ClientConfig,
  DpopConfig,
  HttpSettings,
  MetricsSettings,
  RetentionConfig,
  TesseraConfig,
  ThrottleRule,
  WebhookEndpoint,
  WebhookEndpointConfig,
  WebhookSettings,
} from './config/config.js'
export { WebhookDispatcher } from './webhooks/dispatcher.js'
export type { DispatchResult, Timers, WebhookDispatcherOptions } from './webhooks/dispatcher.js'
export type { SessionWebhookData, WebhookPayload } from './webhooks/messages.js'
export type { SessionView } from './account/session-view.js'
export type { Device } from './account/device.js'
export type { DpopAlgorithm } from './oauth/dpop/dpop-algorithms.js'
export { SqliteStore } from './store/sqlite-store.js'
export type { SqliteStoreOptions } from './store/sqlite-store.js'
export { PostgresStore } from './store/postgres-store.js'
export { MissingPackageError } from './store/optional-package.js'
export type { DriverPackage, PackageLoader } from './store/optional-package.js'
export type { PostgresStoreOptions } from './store/postgres-store.js'
export type {
  Store,
  PoolStats,
  CodeRedemption,
  RotateResult,
  AdminWriteResult,
  ApiChange,
  ClientChange,
  RevokeAll,
  UserChange,
} from './store/store.js'
export type {
  AdminKeyRecord,
  AdminSessionRecord,
  ApiRecord,
  AuthorizationCodeRecord,
  BrowserSessionRecord,
  ClientAuthMethod,
  ClientRecord,
  EndedSession,
  EndedSessionEvent,
  EventFilter,
  GrantType,
  PasskeyRecord,
  SecurityEventRecord,
  SecurityEventType,
  SessionEndReason,
  SessionFilter,
  SessionRecord,
  SessionState,
  SessionTask,
  SessionTaskCompletion,
  SigningAlg,
  SigningKeyRecord,
  TotpRecord,
  UserFilter,
  UserRecord,
  WebhookAttemptRecord,
  WebhookDeliveryFilter,
  WebhookDeliveryRecord,
  WebhookEventType,
  WebhookMessageRecord,
  WebhookOutcome,
  WebhookSubscription,
} from './store/types.js'
export { AdminServices } from './admin/admin-services.js'
export type { Actor, AdminDeps } from './admin/actor.js'
export { FakeClock, MonotonicClock } from './lib/clock.js'
export type { Clock } from './lib/clock.js'
export type { Random } from './lib/random.js'
export type { RouteModule } from './http/app.js'
export type { ServerContext } from './context.js'
export type { AccessTokenClaimsHook, AccessTokenClaimsInput } from './tokens/token-issuer.js'
export type { CaptchaAction, CaptchaHook } from './accounts/captcha.js'
export type { PasswordCost } from './users/password.js'
