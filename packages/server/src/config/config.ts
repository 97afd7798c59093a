import type { DpopAlgorithm } from '../oauth/dpop/dpop-algorithms.js'
import type { ClientAuthMethod, GrantType, SigningAlg } from '../store/types.js'
import type { PasswordCost } from '../users/password.js'

/** An API (resource server) that receives access tokens. */
export interface ApiConfig {
  /** Audience identifier, usually the API's base URL; the `aud` of its tokens. */
  audience: string
  name?: string
  /** Scopes the API defines, beyond the OpenID ones. */
  scopes?: string[]
  /** Seconds an access token for this API lives. Default 900 (15 minutes). */
  accessTokenTtlSeconds?: number
  /** User metadata keys copied into this API's access tokens (e.g. `roles`, `permissions`). */
  userClaims?: string[]
}

export interface ClientConfig {
  id: string
  name?: string
  /** Client secret for confidential clients, at least 32 characters. Omit for public clients. */
  secret?: string
  /** Default: `client_secret_basic` with a secret, `none` without. */
  tokenEndpointAuthMethod?: ClientAuthMethod
  /** `native` allows loopback and private-use scheme redirect URIs. Default `web`. */
  applicationType?: 'web' | 'native'
  redirectUris?: string[]
  postLogoutRedirectUris?: string[]
  /** Default: authorization_code and refresh_token. */
  grantTypes?: GrantType[]
  /** Scopes the client may request. Default: openid profile email offline_access. */
  scopes?: string[]
  /** Audiences the client may request tokens for. */
  audiences?: string[]
  /** Seconds in which the previous refresh token returns the current one. Default 30. */
  refreshGraceSeconds?: number
  /** Replays of the previous refresh token allowed in the window. Default 10. */
  refreshGraceMaxUses?: number
  /** Seconds without a refresh after which a session is abandoned. Default 14 days. */
  sessionIdleSeconds?: number
  /** Seconds after sign-in at which a session expires. Default 90 days. */
  sessionAbsoluteSeconds?: number
  /** DPoP (RFC 9449): `optional` binds tokens when the client sends a proof; `required` refuses
   * token requests without one. Default `optional`. */
  dpop?: 'optional' | 'required'
}

/** Server-wide DPoP settings (RFC 9449). */
export interface DpopConfig {
  /** Algorithms accepted for proofs. Default ES256, EdDSA, Ed25519, RS256, PS256. */
  algorithms: DpopAlgorithm[]
  /** Seconds a proof's `iat` may lie before or after the server's time. Default 60. */
  proofWindowSeconds: number
  /** Require a server nonce (`DPoP-Nonce`, RFC 9449 8 and 9) in every proof. Default false. */
  requireNonce: boolean
}

export interface ThrottleRule {
  /** Requests counted in one window before 429. */
  limit: number
  /** Window length in seconds. */
  windowSeconds: number
}

export interface TesseraConfig {
  /** The issuer identifier and public base URL, e.g. `https://auth.example.com`. */
  issuer: string
  host: string
  port: number
  /** Server secret (>= 32 bytes): keys refresh-token MACs, cookies and the signing-key encryption. */
  secret: Buffer
  database: { driver: 'sqlite'; file: string } | { driver: 'postgres'; url: string }
  signingAlg: SigningAlg
  /** Seconds clients may cache the JWKS. Default 300. */
  jwksMaxAgeSeconds: number
  /** ID token lifetime in seconds. Default 3600. */
  idTokenTtlSeconds: number
  /** Authorization code lifetime in seconds. Default 60. */
  codeTtlSeconds: number
  /** Access token lifetime for client_credentials when the API sets none. Default 900. */
  defaultAccessTokenTtlSeconds: number
  /** The browser SSO session behind the `__Host-` cookie. */
  browserSession: { idleSeconds: number; absoluteSeconds: number }
  /** Addresses (exact IPs) of reverse proxies whose X-Forwarded-For is trusted. Default none. */
  trustProxy: string[]
  throttle: {
    signInPerAccount: ThrottleRule
    signInPerIp: ThrottleRule
    invalidGrantPerClient: ThrottleRule
    invalidGrantPerIp: ThrottleRule
  }
  /** Seconds between maintenance passes (mark expired and abandoned sessions, delete old codes and
   * throttle windows, reload signing keys). 0 turns them off. Default 60. */
  maintenanceIntervalSeconds: number
  /** Largest request body accepted, in bytes. Default 65536. */
  bodyLimit: number
  passwordCost: PasswordCost
  dpop: DpopConfig
  /** Development mode: demo data, the playground at `/`, relaxed cookie `Secure` on http. */
  dev: boolean
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  clients: ClientConfig[]
  apis: ApiConfig[]
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  /** The setting at fault, e.g. `clients[0].redirectUris[1]`. */
  readonly setting: string
  constructor(setting: string, message: string) {
    super(`invalid configuration: ${setting}: ${message}`)
    this.setting = setting
  }
}
