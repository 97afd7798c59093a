/** Records the server keeps. Times are milliseconds since the epoch, from the server's clock. */
import type { TesseraWebhookType } from '@tessera/verify'

export type GrantType = 'authorization_code' | 'refresh_token' | 'client_credentials'
export type ClientAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post'

export interface ClientRecord {
  id: string
  name: string
  /** scrypt hash of the client secret; null for public clients. */
  secretHash: string | null
  tokenEndpointAuthMethod: ClientAuthMethod
  applicationType: 'web' | 'native'
  redirectUris: string[]
  postLogoutRedirectUris: string[]
  grantTypes: GrantType[]
  /** OpenID / API scopes the client may request. */
  scopes: string[]
  /** API audiences the client may request tokens for. */
  audiences: string[]
  /** API audiences whose access tokens this (confidential) client may introspect, as their
   * resource server. Absent: none. */
  resourceServerFor?: string[]
  /** Seconds, fixed from the moment of rotation, in which the previous refresh token returns the
   * current one again. Absent: the default of its type (see graceWindow). */
  refreshGraceSeconds?: number
  /** How many replays of the previous refresh token are answered per rotation. Absent: 1000. */
  refreshGraceMaxUses?: number
  /** Seconds without a refresh after which the session is abandoned. */
  sessionIdleSeconds: number
  /** Seconds after sign-in at which the session expires, whatever its activity. */
  sessionAbsoluteSeconds: number
  /** `cookie`: the refresh token travels in an HttpOnly cookie, never in JSON. Absent: `body`. */
  refreshTokenDelivery?: 'body' | 'cookie'
  /** Origins of the client's browser apps (cookie delivery only). Absent: none. */
  webOrigins?: string[]
  /** DPoP (RFC 9449): `required` refuses token requests without a proof. Absent: `optional`. */
  dpop?: 'optional' | 'required'
  /** Sign-ins need a second factor (else the session is `pending`, task `setup-mfa`). */
  requireMfa?: boolean
  /** Sign-ins need a verified email address (else the session is `pending`, task
   * `verify-email`). Absent: the server-wide `accounts.requireVerifiedEmail`. */
  requireVerifiedEmail?: boolean
  /** Whether the sign-in page offers sign-up for this client. Absent: the server-wide setting. */
  signUp?: boolean
  createdAt: number
  updatedAt: number
}

export interface ApiRecord {
  /** The audience identifier, usually the API's base URL (RFC 8707 `resource`). */
  audience: string
  name: string
  scopes: string[]
  /** Seconds an access token for this API lives. */
  accessTokenTtlSeconds: number
  /** User metadata keys copied into this API's access tokens. */
  userClaims: string[]
  /** Tokens for this API need a session with a second factor (else `pending`, `setup-mfa`). */
  requireMfa?: boolean
  createdAt: number
  updatedAt: number
}

export interface UserRecord {
  /** The `sub` claim: random, never reused, distinct in shape from client ids (`usr_` prefix). */
  id: string
  username: string
  passwordHash: string
  email: string | null
  name: string | null
  disabled: boolean
  /** Arbitrary claims the per-API claims hook may read (roles, permissions, org). */
  metadata: Record<string, unknown>
  passwordChangedAt: number
  /** When the user proved they receive mail at `email` (a verification or reset link); null: not
   * verified. Cleared when the email changes. */
  emailVerifiedAt: number | null
  createdAt: number
  updatedAt: number
}

/** What an email link does. */
export type EmailTokenPurpose = 'verify_email' | 'reset_password'

/** A single-use link sent by mail. Only the SHA-256 of its token is stored. */
export interface EmailTokenRecord {
  tokenHash: string
  purpose: EmailTokenPurpose
  userId: string
  /** The address the link was sent to: a verification counts only while the user still has it. */
  email: string
  createdAt: number
  expiresAt: number
  usedAt: number | null
}

/** A passkey: a WebAuthn credential of a user (W3C WebAuthn Level 3 §6.1 credential record). */
/** An upstream provider's subject (its ID token's `sub`) that signs in as a Tessera user. */
export interface UpstreamLinkRecord {
  providerId: string
  subject: string
  userId: string
  createdAt: number
}

/** A native app's device key for biometric step-up: a public key whose private half stays in the
 * device's Secure Enclave / Android Keystore, released only by the device's biometrics. ES256
 * (P-256), or RS256 (RSA of 2048 bits or more) as react-native-biometrics makes them. */
export interface DeviceKeyRecord {
  id: string
  userId: string
  /** Given by the app at registration (`Alice's iPhone`). */
  name: string
  publicJwk:
    { kty: 'EC'; crv: 'P-256'; x: string; y: string } | { kty: 'RSA'; n: string; e: string }
  /** RFC 7638 thumbprint of `publicJwk`. */
  jkt: string
  createdAt: number
  lastUsedAt: number | null
}

export interface PasskeyRecord {
  /** The credential id, base64url (unique across users). */
  id: string
  userId: string
  /** The COSE-encoded public key, base64url. */
  publicKey: string
  /** The authenticator's signature counter at the last use; 0 when it does not count. */
  counter: number
  /** Transport hints from registration (`internal`, `hybrid`, `usb`, ...). */
  transports: string[]
  /** BE flag: the credential may be synced (a multi-device passkey). */
  backupEligible: boolean
  /** BS flag at the last use: the credential is backed up. */
  backupState: boolean
  /** Given by the user at registration. */
  name: string
  createdAt: number
  lastUsedAt: number | null
}

/** The browser's single sign-on session at the server, behind the `__Host-tessera_sso` cookie. */
export interface BrowserSessionRecord {
  /** sha256 of the cookie secret, base64url; the cookie value itself is never stored. */
  id: string
  userId: string
  authTime: number
  amr: string[]
  createdAt: number
  lastActiveAt: number
  expiresAt: number
  endedAt: number | null
}

export interface AuthorizationCodeRecord {
  /** sha256 of the code, base64url. */
  codeHash: string
  clientId: string
  userId: string
  browserSessionId: string | null
  redirectUri: string
  scope: string
  /** Audiences the grant allows (RFC 8707). */
  resources: string[]
  nonce: string | null
  codeChallenge: string
  codeChallengeMethod: 'S256'
  authTime: number
  amr: string[]
  createdAt: number
  expiresAt: number
  consumedAt: number | null
  /** The session the first redemption created; revoked if the code is replayed. */
  sessionId: string | null
  userAgent: string | null
  ip: string | null
  /** RFC 9449 10 `dpop_jkt`: the code may only be redeemed with a DPoP proof of this key. */
  dpopJkt?: string | null
  /** The client, an API of the grant or `acr_values` asked for a second factor: a session
   * redeemed from a code whose `amr` has none is `pending` with the task `setup-mfa`. */
  mfaRequired?: boolean
}

/** A task a `pending` session must complete before it gets API access tokens (the ID token's and
 * userinfo's `tessera_task` claim). */
/** The task of a `pending` session: `setup-mfa` (enrol a second factor) or `verify-email` (follow
 * the verification link). When both apply, `setup-mfa` comes first. */
export type SessionTask = 'setup-mfa' | 'verify-email'

/** Which pending sessions `Store.completeSessionTask` completes, and how. */
export type SessionTaskCompletion = (
  | /** Those started from one browser session. */ { browserSessionId: string }
  | /** Every one of a user, on any browser or device. */ { userId: string }
) & {
  task: SessionTask
  /** The authentication that completed the task, written to the sessions; absent: unchanged. */
  amr?: string[]
  authTime?: number
  /** The sessions of these clients (`'all'`: of every client) stay `pending` with this next task
   * instead of becoming `active`. */
  next?: { task: SessionTask; clientIds: string[] | 'all' }
}

export type SessionState =
  'active' | 'pending' | 'ended' | 'expired' | 'abandoned' | 'revoked' | 'removed' | 'replaced'

export type SessionEndReason =
  | 'sign_out'
  | 'absolute_lifetime'
  | 'idle_timeout'
  | 'refresh_token_reuse'
  | 'code_reuse'
  | 'token_revocation'
  | 'admin'
  | 'user'
  | 'password_change'
  | 'user_disabled'
  | 'user_deleted'
  /** The client was deleted by an admin: its sessions cannot be used any more. */
  | 'client_deleted'

/** A signed-in client session and its one refresh family. */
export interface SessionRecord {
  /** 128-bit random id; the public `sid` claim and the first part of every refresh token. */
  id: string
  userId: string
  clientId: string
  browserSessionId: string | null
  state: SessionState
  reason: SessionEndReason | null
  endedAt: number | null
  scope: string
  /** Audiences this grant allows. */
  resources: string[]
  authTime: number
  amr: string[]
  /** ID token `nonce` of the sign-in (not repeated at refresh). */
  createdAt: number
  lastActiveAt: number
  /** The moment the absolute lifetime ends. */
  expiresAt: number
  /** Idle timeout in seconds, from the client at sign-in. */
  idleSeconds: number
  /** Generation of the current refresh token. The previous one is `generation - 1`. */
  generation: number
  /** When `generation` became current. */
  rotatedAt: number
  /** Grace replays of the previous token since the last rotation. */
  graceUses: number
  /** The grace window and replay limit in force at sign-in. Written so that servers of earlier
   * versions, which read them, keep working during a rolling upgrade; this version decides from
   * the client's current settings (graceWindow), so a change applies to live sessions at once. */
  graceSeconds: number
  graceMaxUses: number
  /** Random per-session salt mixed into every refresh token MAC. */
  salt: string
  userAgent: string | null
  ip: string | null
  /** RFC 7638 thumbprint of the DPoP key the refresh tokens are bound to (RFC 9449 5); absent or
   * null: not bound. Set at the code exchange only, never later. */
  dpopJkt?: string | null
  /** The task of a `pending` session; absent or null otherwise. */
  task?: SessionTask | null
}

export type SecurityEventType =
  | 'sign_in_success'
  | 'sign_in_failure'
  | 'sign_out'
  | 'refresh_token_reuse'
  /** The previous refresh token replayed inside the grace window (a lost response, a crash
   * before saving, or a concurrent refresh): answered with the current token, and audited. */
  | 'refresh_token_retry'
  | 'code_reuse'
  | 'session_revoked'
  | 'session_ended'
  /** The maintenance sweep (or a request) found the session past its absolute lifetime. */
  | 'session_expired'
  /** The maintenance sweep (or a request) found the session past its idle timeout. */
  | 'session_abandoned'
  | 'token_revoked'
  | 'throttled'
  | 'signing_key_rotated'
  // Admin actions (Admin API, console, CLI); `data.actor` names who did it.
  | 'user_created'
  | 'user_updated'
  | 'user_disabled'
  | 'user_enabled'
  | 'user_deleted'
  | 'password_changed'
  /** An admin ended every session of a user ("sign out everywhere"). */
  | 'user_sessions_revoked'
  | 'client_created'
  | 'client_updated'
  | 'client_deleted'
  | 'client_secret_rotated'
  | 'api_created'
  | 'api_updated'
  | 'api_deleted'
  | 'admin_key_created'
  | 'admin_key_revoked'
  /** A request to the Admin API or console with a wrong admin key. */
  | 'admin_auth_failure'
  | 'admin_sign_in'
  | 'admin_sign_out'
  /** A user confirmed a TOTP authenticator (enrolment done; recovery codes issued). */
  | 'mfa_enrolled'
  /** A second-factor code (TOTP or recovery code) was accepted at sign-in or step-up. */
  | 'mfa_success'
  /** A wrong, reused or throttled second-factor code. */
  | 'mfa_failure'
  /** An admin removed a user's TOTP authenticator and recovery codes. */
  | 'mfa_reset'
  /** A pending session's task was completed; the session is active. */
  | 'session_task_completed'
  // Self-service accounts (hosted pages) and their admin actions.
  | 'user_signed_up'
  | 'email_verification_sent'
  | 'email_verified'
  | 'password_reset_requested'
  | 'password_reset'
  /** A sign-up setting changed through the Admin API. */
  | 'sign_up_setting_changed'
  /** A passkey was added (account page) or removed (account API, Admin API). */
  | 'passkey_registered'
  | 'passkey_removed'
  /** A passkey assertion whose signature counter did not move past the stored one: a possible
   * cloned authenticator; the sign-in was refused. */
  | 'passkey_counter_regression'
  /** An upstream provider's subject was linked to a user (`data.provider`, `data.how`). */
  | 'upstream_linked'
  /** A native app registered a device key (biometric step-up) or it was removed (account API,
   * Admin API). */
  | 'device_key_registered'
  | 'device_key_removed'
  /** A biometric step-up with a device key raised a session. */
  | 'device_step_up_success'
  /** A biometric step-up was refused; `data.reason` says why (`replayed_challenge`,
   * `expired_challenge`, `invalid_challenge`, `removed_device`, `wrong_key`, `bad_signature`,
   * `session_mismatch`). */
  | 'device_step_up_failure'

export interface SecurityEventRecord {
  id: string
  type: SecurityEventType
  at: number
  userId: string | null
  clientId: string | null
  sessionId: string | null
  ip: string | null
  userAgent: string | null
  /** Structured, secret-free details (reason, cause, generation ...). */
  data: Record<string, unknown>
}

export type SigningAlg = 'ES256' | 'EdDSA' | 'RS256'

export interface SigningKeyRecord {
  kid: string
  alg: SigningAlg
  /** Public JWK as JSON. */
  publicJwk: string
  /** Private JWK, encrypted with a key derived from the server secret (AES-256-GCM), base64url. */
  privateJwkEnc: string
  createdAt: number
  /** Signs from this moment; published in the JWKS from creation. */
  activatesAt: number
  /** Stops signing at this moment (a newer key took over); null while it is the newest. */
  retiredAt: number | null
  /** Removed from the JWKS after this moment (its last tokens have expired). */
  expiresAt: number | null
}

export interface SessionFilter {
  userId?: string
  clientId?: string
  state?: SessionState
  browserSessionId?: string
  /** Pagination cursor: sessions after this one in the listing's order (newest first, then by
   * id). Pass the last session of the previous page. */
  after?: { createdAt: number; id: string }
  /** Live (active or pending) sessions plus those that ended at or after this time: a user's
   * sessions with their recent history. */
  liveOrEndedSince?: number
  limit?: number
}

/** A session that a store call has just moved to a terminal state. */
export interface EndedSession {
  id: string
  userId: string
  clientId: string
  state: Exclude<SessionState, 'active' | 'pending'>
  reason: SessionEndReason
  /** When the session ended (for a timeout: when its lifetime ran out). */
  endedAt: number
}

/** Builds the security event of one ended session: the store has neither clock nor randomness,
 * so a caller that ends several sessions at once passes this instead of the events. */
export type EndedSessionEvent = (s: EndedSession) => SecurityEventRecord

/** Webhook event types: one per terminal session state, plus the reuse alert. One list for the
 * sender and for receivers: @tessera/verify's, which `verifyWebhook` types its events with. */
export type WebhookEventType = TesseraWebhookType

/**
 * A webhook message in the outbox: written in the transaction that ended the session, and fanned
 * out to the subscribed endpoints (as deliveries) by a dispatcher.
 */
export interface WebhookMessageRecord {
  /** The `webhook-id` (Standard Webhooks): stable across retries and endpoints. */
  id: string
  type: WebhookEventType
  /** The JSON body, fixed when the event happened, so every attempt sends the same bytes. */
  payload: string
  createdAt: number
}

/** Which endpoint wants which message types (from the configuration). */
export interface WebhookSubscription {
  endpointId: string
  events: readonly WebhookEventType[]
}

/** One message on its way to one endpoint. Delivered ones are deleted; failed ones are kept until
 * the retention ends. */
export interface WebhookDeliveryRecord {
  /** `<endpoint id>/<message id>`. */
  id: string
  messageId: string
  endpointId: string
  type: WebhookEventType
  payload: string
  /** When the message was written (the retry horizon counts from here). */
  createdAt: number
  state: 'pending' | 'failed'
  /** Attempts made so far. */
  attempts: number
  nextAttemptAt: number
  /** The dispatcher holding the delivery, until `leaseUntil`. */
  leaseOwner: string | null
  leaseUntil: number | null
  lastAttemptAt: number | null
  /** HTTP status of the last attempt; null when there was no response (timeout, refused). */
  lastStatus: number | null
  lastError: string | null
}

/** One HTTP attempt of a delivery. */
export interface WebhookAttemptRecord {
  id: string
  deliveryId: string
  messageId: string
  endpointId: string
  /** 1 for the first attempt. */
  attempt: number
  at: number
  status: number | null
  error: string | null
  durationMs: number
}

/** How an attempt settles its delivery. */
export type WebhookOutcome =
  { result: 'delivered' } | { result: 'retry'; nextAttemptAt: number } | { result: 'failed' }

export interface WebhookDeliveryFilter {
  state?: 'pending' | 'failed'
  endpointId?: string
  messageId?: string
  limit?: number
}

export interface UserFilter {
  /** Case-insensitive substring of the username, email or name. */
  search?: string
  /** Pagination cursor: users whose lower-cased username sorts after this one. */
  afterUsername?: string
  /** Default 100. */
  limit?: number
}

/** An Admin API key made by `tessera admin-keys create`; only its hash is stored. */
export interface AdminKeyRecord {
  /** `ak_` + 128 random bits. */
  id: string
  name: string
  /** `sha256$` + base64url SHA-256 of the key. */
  keyHash: string
  createdAt: number
  revokedAt: number | null
}

/** A signed-in admin console, behind its HttpOnly SameSite=Strict cookie. */
export interface AdminSessionRecord {
  /** sha256 of the cookie secret, base64url. */
  id: string
  /** The admin key that signed in: an AdminKeyRecord id, or `config:<name>:<fingerprint>` for a
   * configured key (so a key replaced under the same name does not keep its sign-ins). */
  keyId: string
  createdAt: number
  lastActiveAt: number
  expiresAt: number
  endedAt: number | null
}

export interface EventFilter {
  type?: SecurityEventType
  userId?: string
  sessionId?: string
  clientId?: string
  /** Events strictly before this time. */
  before?: number
  /** Events at or after this time. */
  since?: number
  /** Pagination cursor: events that come after this one in the listing's order (newest first,
   * then by id), so events sharing a timestamp are never skipped across a page boundary. Pass the
   * last event of the previous page. */
  after?: { at: number; id: string }
  limit?: number
}

/** A user's TOTP authenticator (RFC 6238): one per user. */
export interface TotpRecord {
  userId: string
  /** The shared secret, AES-256-GCM under a key derived from the server secret, base64url. */
  secretEnc: string
  createdAt: number
  /** When the user proved the authenticator with a first valid code; null while enrolling. */
  confirmedAt: number | null
  /** The highest time step accepted so far: a code of this step or an earlier one is refused
   * (RFC 6238 5.2, no reuse within the window). Null before the first accepted code. */
  lastStep: number | null
}
