import type { DpopAlgorithm } from '../oauth/dpop/dpop-algorithms.js'
import type { ClientAuthMethod, GrantType, SigningAlg, WebhookEventType } from '../store/types.js'
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
  /** Tokens for this API need a second factor: a sign-in whose grant includes it asks for a code
   * (or leaves the session `pending` with the task `setup-mfa`). Default false. */
  requireMfa?: boolean
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
  /** API audiences this confidential client is the resource server of: it may introspect access
   * tokens issued for them (SES-12). Default none. */
  resourceServerFor?: string[]
  /** Seconds, 0-300, in which the previous refresh token returns the current one. Default by
   * type: 30 for `web`, 180 for `native`, 300 for a DPoP-bound session or a confidential client. */
  refreshGraceSeconds?: number
  /** Replays of the previous refresh token answered per rotation, 0-10000; beyond, they are
   * refused without revoking anything. Default 1000. */
  refreshGraceMaxUses?: number
  /** Seconds without a refresh after which a session is abandoned. Default 14 days. */
  sessionIdleSeconds?: number
  /** Seconds after sign-in at which a session expires. Default 90 days. */
  sessionAbsoluteSeconds?: number
  /**
   * Where the refresh token goes. `body` (default): in the JSON token response (RFC 6749 5.1).
   * `cookie`: in an HttpOnly, SameSite=Strict cookie of this server, never in the JSON, so browser
   * JavaScript never sees it; for public browser apps on an origin same-site with the issuer.
   * Needs `webOrigins`.
   */
  refreshTokenDelivery?: RefreshTokenDelivery
  /**
   * Origins (`https://app.example.com`, no path) of the browser apps of this client. With cookie
   * delivery, the token and revocation endpoints accept the cookie only from these origins and
   * answer them with credentialed CORS.
   */
  webOrigins?: string[]
  /** DPoP (RFC 9449): `optional` binds tokens when the client sends a proof; `required` refuses
   * token requests without one. Default `optional`. */
  dpop?: 'optional' | 'required'
  /** Every sign-in to this client needs a second factor: a user with an authenticator is asked
   * for a code; one without gets a `pending` session with the task `setup-mfa`, which receives no
   * API access tokens until the user enrols. Default false. */
  requireMfa?: boolean
  /** Every sign-in to this client needs a verified email address: the session of a user whose
   * address is not verified is `pending` with the task `verify-email` (no API access tokens) until
   * the user follows the verification link. Absent: `accounts.requireVerifiedEmail`. */
  requireVerifiedEmail?: boolean
  /** Whether the sign-in page offers sign-up for this client. Absent: the server-wide setting
   * (`accounts.signUp`, or what the Admin API set). */
  signUp?: boolean
}

export type RefreshTokenDelivery = 'body' | 'cookie'

/** SQLite, the embedded default: one file, one server process. */
export interface SqliteConfig {
  driver: 'sqlite'
  /** Path of the database file. */
  file: string
  /** Milliseconds a write waits for another process's write lock (the admin CLI, a backup,
   * `sqlite3`) before answering 503 with Retry-After. The wait is asynchronous: other requests
   * are served meanwhile. Default 5000. */
  busyTimeoutMs?: number
}

/** PostgreSQL, for several server instances sharing one database. */
export interface PostgresConfig {
  driver: 'postgres'
  /** `postgres://user:password@host:port/database` (also `postgresql://`). Never printed. */
  url: string
  /** Connections per server instance, at most. Default 10. */
  poolSize?: number
  /** Milliseconds one statement may run before PostgreSQL cancels it (answered 503). Default
   * 5000. */
  statementTimeoutMs?: number
  /** Milliseconds to wait for a database connection before answering 503. Default 5000. */
  connectTimeoutMs?: number
  /** Schema of the tables (the connections' search_path). Default: the role's, normally
   * `public`. */
  schema?: string
}

/** How long records that have ended are kept before the maintenance pass deletes them. 0 keeps
 * them forever. */
export interface RetentionConfig {
  /** Seconds a session is kept after it ended (signed out, revoked, expired, abandoned ...).
   * Default 2592000 (30 days, what the account API lists as recently ended). */
  sessionsSeconds: number
  /** Seconds a browser (SSO) session is kept after it ended, expired or went idle, once no live
   * session belongs to it. Default 2592000 (30 days). */
  browserSessionsSeconds: number
  /** Seconds a security event is kept. Default 7776000 (90 days). */
  eventsSeconds: number
  /** Rows deleted per statement; the pass yields to requests between statements. Default 500. */
  batchSize: number
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
  /** Failures counted in one window before the rule acts (429, or a delay for a SlowdownRule). */
  limit: number
  /** Window length in seconds. */
  windowSeconds: number
}

/** A limit that slows down instead of refusing: past it, every attempt waits `delayMs` first. */
export interface SlowdownRule extends ThrottleRule {
  /** Milliseconds every attempt waits once the limit is reached, 0-30000. */
  delayMs: number
}

/** An Admin API key allowed by the configuration: only its hash is configured. */
export interface AdminKeyConfig {
  /** Shown as the actor of what the key does: 1-64 of `A-Z a-z 0-9 . _ -`. */
  name: string
  /** `sha256$` + the base64url SHA-256 of the key (`tessera admin-keys hash` prints it). */
  hash: string
}

export interface AdminSettings {
  /** Admin API keys besides those made with `tessera admin-keys create` (kept in the store). */
  apiKeys: AdminKeyConfig[]
  /** Seconds without a request after which an admin console sign-in ends. Default 1800. */
  consoleIdleSeconds: number
  /** Seconds after which an admin console sign-in ends, however active. Default 43200. */
  consoleAbsoluteSeconds: number
  /** Port of the internal listener that serves the Admin API and the admin console (0 picks a
   * free one). Unset (the default): they are served on the public port. Set: the public port
   * answers them 404. */
  port: number | undefined
  /** Address the internal admin listener binds to. Default: `host`. */
  host: string
}

/** `/metrics` on a listener of its own. */
export interface MetricsSettings {
  /** Port of the internal listener that serves `/metrics` (0 picks a free one); the same as
   * `admin.port` shares that listener. Unset (the default): `/metrics` is served on the public
   * port. Set: the public port answers it 404. */
  port: number | undefined
  /** Address the metrics listener binds to. Default: `host`. */
  host: string
}

/** Timeouts and limits of every HTTP listener (Node's `http.Server` settings). */
export interface HttpSettings {
  /** Milliseconds a client has to send the complete request headers, from its first byte; then
   * 408 and the connection is closed (a slowloris is cut). Default 10000. */
  headersTimeoutMs: number
  /** Milliseconds a client has to send the complete request, headers and body; then 408.
   * At least `headersTimeoutMs`. Default 30000. */
  requestTimeoutMs: number
  /** Milliseconds an idle kept-alive connection stays open. Default 72000: longer than the 60 s
   * idle timeout of common load balancers, so they close first and never reuse a connection the
   * server is closing. */
  keepAliveTimeoutMs: number
  /** Open connections per listener at most; further connections are closed at once, unanswered.
   * Default 10000. */
  maxConnections: number
  /** Bytes of request line and headers at most; more gets 431. Default 16384. */
  maxHeaderSize: number
}

/** A webhook receiver, as written in the configuration. */
export interface WebhookEndpointConfig {
  /** Where events are POSTed: https (http only for a loopback address, or in dev mode), no
   * credentials, no fragment. Unique. */
  url: string
  /** Signing secret in the Standard Webhooks format: `whsec_` + base64 of 32 to 64 random bytes.
   * During a rotation, a list of two: every delivery is signed with each. */
  secret: string | string[]
  /** Event types sent to this endpoint. Default: all. */
  events?: WebhookEventType[]
}

/** A webhook receiver, resolved. */
export interface WebhookEndpoint {
  /** `ep_` + 16 characters of the URL's SHA-256: names the endpoint in the outbox and logs. */
  id: string
  url: string
  /** HMAC-SHA256 keys (the decoded secrets). */
  keys: Buffer[]
  events: WebhookEventType[]
}

export interface WebhookSettings {
  endpoints: WebhookEndpoint[]
  /** Seconds one delivery attempt may take before it counts as failed. Default 10. */
  timeoutSeconds: number
  /** Seconds after the event within which failed deliveries are retried; then the delivery is
   * marked failed. Default 86400 (24 hours). */
  retryForSeconds: number
  /** Seconds failed deliveries and the record of attempts are kept. Default 604800 (7 days). */
  retentionSeconds: number
}

export interface TesseraConfig {
  /** The issuer identifier and public base URL, e.g. `https://auth.example.com`. */
  issuer: string
  host: string
  port: number
  /** The server secrets (each >= 32 bytes), newest first: they key refresh-token MACs, CSRF and
   * login-transaction MACs, DPoP nonces and the signing-key encryption (one derived key per
   * purpose). The first signs and encrypts; every one verifies and decrypts, so a secret can be
   * rotated without ending sessions. */
  secrets: readonly Buffer[]
  database: SqliteConfig | PostgresConfig
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
    /** Failed sign-ins of one username from one client IP; past it that IP gets 429 for that
     * username (even with the right password). Default 10 per 900 s. */
    signInPerAccountAndIp: ThrottleRule
    /** Failed sign-ins of one username from all addresses; past it every sign-in of that username
     * waits `delayMs` first, but is never refused (DOS-02). Default 100 per 900 s, 2000 ms. */
    signInPerAccount: SlowdownRule
    /** Failed sign-ins per client IP, whatever the username. Default 100 per 900 s. */
    signInPerIp: ThrottleRule
    /** Failed authentications of one confidential client from all addresses; past it wrong
     * secrets get 429, the right one still authenticates (DOS-01). Default 300 per 60 s. */
    clientAuthPerClient: ThrottleRule
    /** Invalid grants of one authenticated confidential client. Default 300 per 60 s. */
    invalidGrantPerClient: ThrottleRule
    /** Failed token requests (bad codes, refresh tokens, client secrets) per client IP. */
    invalidGrantPerIp: ThrottleRule
    /** Wrong admin keys (Admin API and console sign-in) per client IP; past it wrong keys get 429,
     * a valid key is still accepted. Default 20 per 900 s. */
    adminPerIp: ThrottleRule
    /** Wrong second-factor codes (TOTP or recovery codes) of one account, from all addresses;
     * past it every code of that account is refused (429) until the window ends. Only someone who
     * knows the password can spend it. Default 10 per 900 s. */
    mfaPerAccount: ThrottleRule
    /** Sign-ups per client IP (every attempt counts). Default 10 per 3600 s. */
    signUpPerIp: ThrottleRule
    /** Account mails asked for (password reset, verification resend) per client IP, every request
     * counting. Default 10 per 900 s. */
    accountMailPerIp: ThrottleRule
    /** Account mails asked for per address (password reset) or per user (resend). Past it the
     * request gets the same answer but no mail is sent. Default 3 per 900 s. */
    accountMailPerAddress: ThrottleRule
  }
  /** The Admin API and the admin console. */
  admin: AdminSettings
  /** Where `/metrics` is served. */
  metrics: MetricsSettings
  /** Timeouts and limits of the HTTP listeners. */
  http: HttpSettings
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
  /** The self-service account API (`/account/...`). */
  account: {
    /** Ending a session other than the caller's own needs a sign-in at most this many seconds old
     * (the token's `auth_time`). Default 300. */
    maxAuthAgeSeconds: number
  }
  /** Signed HTTP callbacks when sessions end. */
  webhooks: WebhookSettings
  /** Deleting what has ended, in the maintenance pass. */
  retention: RetentionConfig
  /** Outgoing mail (verification, password reset, notices). */
  email: EmailSettings
  /** Self-service accounts on the hosted pages: sign-up, verification, password reset. */
  accounts: AccountSettings
  /** OpenID Connect providers offered as "Sign in with ..." on the sign-in page. Default none. */
  upstream: UpstreamProvider[]
  /** The look of the hosted pages (sign-in, sign-up, account): name, logo, colours, style sheet. */
  branding: BrandingSettings
}

/**
 * An upstream OpenID Connect provider ("Sign in with ..."). Its discovery document is read from
 * `issuer` at the first sign-in; ID tokens are validated by `openid-client`.
 */
export interface UpstreamProvider {
  /** Stable identifier, in URLs and in the stored links (`[a-z0-9-]`, 1-32). Renaming it unlinks
   * every account linked through it. */
  id: string
  /** The button's text: "Sign in with {name}". */
  name: string
  /** The provider's issuer identifier (https; http only on a loopback address, for tests and
   * development). */
  issuer: string
  clientId: string
  /** The client secret at the provider (client_secret_basic). Never logged. */
  clientSecret: string
  /** Scopes requested; always includes `openid`. Default `openid email profile`. */
  scopes: string[]
}

/** The look of the hosted pages; every field null: Tessera's own. */
export interface BrandingSettings {
  /** The product name shown above the forms and in the page titles. */
  name: string | null
  /** The logo: an https URL or a base64 data URL of an image. */
  logoUrl: string | null
  /** Validated CSS colours: buttons and links, the page background, the text. */
  colors: { primary: string | null; background: string | null; text: string | null }
  /** A CSS file served at `/branding.css` and allowed by the pages' CSP as a `'self'` style. */
  cssFile: string | null
  /** The file's content, read when the configuration is loaded. */
  css: string | null
}

/** An SMTP relay. The password never appears in logs or errors. */
export interface SmtpSettings {
  host: string
  /** Default 587 (465 when `secure`). */
  port: number
  /** TLS from the first byte (SMTPS, usually port 465). Default: true on port 465. */
  secure: boolean
  /** Without `secure`: refuse to send unless the server offers STARTTLS. Default true. */
  requireTls: boolean
  /** SMTP AUTH user; with `pass`. */
  user: string | null
  /** SMTP AUTH password (prefer `TESSERA_SMTP_PASSWORD`). */
  pass: string | null
}

export interface EmailSettings {
  /** The relay; null: no mail is sent (sign-up, reset and verification are off), except in dev
   * mode, where mail is caught in memory and shown at `/dev/mail`. */
  smtp: SmtpSettings | null
  /** The `From` header: `addr@example.com` or `Name <addr@example.com>`. Required with `smtp`. */
  from: string
  /** A directory whose template files replace the built-in ones of the same name. */
  templatesDir: string | null
}

export interface AccountSettings {
  /** Whether the sign-in page offers sign-up, for clients that do not decide themselves (a
   * client's `signUp`). The Admin API can change it at run time. Default false. */
  signUp: boolean
  /** Whether sign-ins need a verified email address, for clients that do not decide themselves (a
   * client's `requireVerifiedEmail`). Default false. */
  requireVerifiedEmail: boolean
  /** Shortest password accepted at sign-up, reset and change, 8-64. Default 8 (NIST SP 800-63B
   * 5.1.1.2). */
  passwordMinLength: number
  /** Seconds a verification link works. Default 86400 (24 hours). */
  verifyLinkTtlSeconds: number
  /** Seconds a password reset link works. Default 1800 (30 minutes). */
  resetLinkTtlSeconds: number
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
