/**
 * `@tessera/verify`: access-token verification for resource servers.
 *
 * The framework bindings are subpath exports, so an app pulls in only the one it uses:
 * `@tessera/verify/fastify`, `@tessera/verify/express`, `@tessera/verify/hono`. The fetch-handler
 * binding (`withAuth`) is here, since it needs no framework.
 */
export { createVerifier, type Verifier, type VerifierStats } from './verifier/create-verifier.js'
export type {
  Algorithm,
  ClaimCheck,
  DpopAlgorithm,
  DpopOptions,
  FetchLike,
  IntrospectionOptions,
  VerifierOptions,
} from './verifier/options.js'
export type {
  AccessTokenClaims,
  ProtectedRequest,
  TokenVerifier,
  VerifiedToken,
} from './verifier/verified-token.js'
export type { DpopReplayStore } from './dpop/replay-store.js'
export { normaliseHtu } from './dpop/htu.js'
export { isCanonicalJwsSignature } from './jwt/decode-jws.js'
export {
  isVerifyError,
  TesseraVerifyError,
  type ClaimErrorCode,
  type VerifyError,
  type VerifyErrorCode,
} from './errors.js'
export type { Clock } from './lib/clock.js'
export { withAuth, type WithAuthOptions } from './http/with-auth.js'
export { challenge, type AuthFailure, type ChallengeOptions } from './http/challenge.js'
export { authenticateRequest, checkScopes, type AuthResult } from './http/authenticate-request.js'
export { checkAuthentication, type AuthenticationRequirement } from './http/check-authentication.js'
export {
  verifyWebhook,
  type TesseraWebhookEvent,
  type TesseraWebhookType,
  type VerifiedWebhook,
  type VerifyWebhookOptions,
  type WebhookHeaders,
} from './webhooks/verify-webhook.js'
