/** Records the server keeps. Times are milliseconds since the epoch, from the server's clock. */

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
  /** Seconds, fixed from the moment of rotation, in which the previous refresh token returns the
   * current one again. */
  refreshGraceSeconds: number
  /** How many times the previous refresh token may be replayed inside the grace window. */
  refreshGraceMaxUses: number
  /** Seconds without a refresh after which the session is abandoned. */
  sessionIdleSeconds: number
  /** Seconds after sign-in at which the session expires, whatever its activity. */
  sessionAbsoluteSeconds: number
  /** DPoP (RFC 9449): `required` refuses token requests without a proof. Absent: `optional`. */
  dpop?: 'optional' | 'required'
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
  createdAt: number
  updatedAt: number
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
  /** Grace window in seconds, from the client at sign-in. */
  graceSeconds: number
  graceMaxUses: number
  /** Random per-session salt mixed into every refresh token MAC. */
  salt: string
  userAgent: string | null
  ip: string | null
  /** RFC 7638 thumbprint of the DPoP key the refresh tokens are bound to (RFC 9449 5); absent or
   * null: not bound. Set at the code exchange only, never later. */
  dpopJkt?: string | null
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
  | 'token_revoked'
  | 'throttled'
  | 'signing_key_rotated'

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
  limit?: number
}

export interface EventFilter {
  type?: SecurityEventType
  userId?: string
  sessionId?: string
  clientId?: string
  /** Events strictly before this time. */
  before?: number
  /** Pagination cursor: events that come after this one in the listing's order (newest first,
   * then by id), so events sharing a timestamp are never skipped across a page boundary. Pass the
   * last event of the previous page. */
  after?: { at: number; id: string }
  limit?: number
}
