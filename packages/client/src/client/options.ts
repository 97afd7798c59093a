import type { PlatformURL } from '../platform-types.js'
import type { DiagnosticListener } from '../diagnostics.js'
import { TesseraClientError } from '../errors.js'
import type { FetchLike } from '../http/http.js'
import type { Lifecycle } from '../lifecycle/lifecycle.js'
import type { BackoffOptions } from '../lib/backoff.js'
import type { Clock } from '../lib/clock.js'
import type { DpopBinding } from '../dpop/dpop-binding.js'
import type { CryptoProvider } from '../lib/crypto.js'
import { isAllowedUrl, type ServerMetadata } from '../oauth/metadata.js'
import type { TesseraStorage } from '../storage/storage.js'
import type { TabSync } from '../tabs/tab-sync.js'

/** An API the app calls: requests under `baseUrl` get access tokens for `audience`. */
export interface ApiConfig {
  /** Requests whose URL is under this URL (same origin, path prefix on a `/` boundary) get this
   * API's token. Requests to any other URL get no token. */
  baseUrl: string
  /** The API's audience: the RFC 8707 `resource` its tokens are requested for. */
  audience: string
  /** Scopes of this API to ask for at sign-in, space-separated (e.g. `read write`). */
  scope?: string
}

export interface TesseraClientOptions {
  /** The issuer, exactly as the server's metadata states it (e.g. `https://auth.example.com`). */
  issuer: string
  clientId: string
  /** Where the server sends the browser back after sign-in; registered for the client. */
  redirectUri: string
  /** The APIs the app calls. One sign-in yields tokens for all of them. Default none. */
  apis?: ApiConfig[]
  /** OpenID scopes to ask for at sign-in, besides each API's. Default
   * `openid profile email offline_access`. */
  scope?: string
  /** Where the server sends the browser after sign-out, when registered for the client. */
  postLogoutRedirectUri?: string
  /** Where the session lives. Default `memoryStorage()`. */
  storage?: TesseraStorage
  /** Coordination with other tabs. Default `localTabSync()` (this context only). */
  tabs?: TabSync
  /** Platform events (foreground, online, activity). Default none. */
  lifecycle?: Lifecycle
  /** Default `globalThis.fetch`. */
  fetch?: FetchLike
  /** Default the system clock and timers. */
  clock?: Clock
  /** Default Web Crypto (`globalThis.crypto`); required on platforms without it. */
  crypto?: CryptoProvider
  /** Uniform random numbers in [0, 1) for jitter (not for secrets). Default `Math.random`. */
  random?: () => number
  /** Seconds before expiry at which an access token counts as stale, capped at half its lifetime
   * so short-lived tokens are still used. Default 30. */
  skewSeconds?: number
  /** Seconds of tolerance when checking ID token `iat` and `exp`. Default 60. */
  clockToleranceSeconds?: number
  /** Milliseconds before a request to the server is abandoned. Default 30000. */
  requestTimeoutMs?: number
  /** Retry delays after transient failures. Default 1 s doubling to 60 s, with jitter. */
  backoff?: BackoffOptions
  /** Refresh tokens in use shortly before they expire, so `getToken` rarely waits. Timers only
   * warm the cache; `getToken` always checks expiry itself. Default true. */
  autoRefresh?: boolean
  /** Largest random delay (ms) before refreshing after the app comes back to the foreground or
   * online, so many devices do not refresh in the same instant. Default 3000. */
  resumeJitterMs?: number
  /** After this many seconds without user activity (from `lifecycle`), sign out or lock. */
  idleTimeout?: { seconds: number; action: 'sign-out' | 'lock' }
  /** Opens a URL (sign-in, sign-out). Browser: `(url) => window.location.assign(url)`. Without it,
   * `signIn()` and `signOut()` only return the URL. */
  navigate?: (url: string) => void
  /** The current URL, for `returnTo` and the redirect callback. Browser: `() => location.href`. */
  currentUrl?: () => string
  /** Use this metadata instead of fetching `/.well-known/openid-configuration`. It is validated
   * the same way (SDK-07). */
  metadata?: ServerMetadata
  /** Prefix of the storage keys. Default `tessera`. */
  storageKeyPrefix?: string
  /**
   * Where the refresh token lives, as the server is configured for this client. `body` (default):
   * the token response carries it and the client keeps it in `storage`. `cookie`: the server keeps
   * it in an HttpOnly cookie on its own origin (Tessera's `refreshTokenDelivery: 'cookie'`); the
   * client never holds it, sends its token and revocation requests with `credentials: 'include'`,
   * and storage keeps only access and ID tokens. For browser apps on an origin same-site with the
   * issuer (`app.example.com` with `auth.example.com`).
   */
  refreshTokenDelivery?: 'body' | 'cookie'
  /**
   * Sender-constrained tokens (DPoP, RFC 9449): `browserDpop()` (a non-extractable key in
   * IndexedDB) or `dpopSigner(...)` (a signer of your own) from `@tessera/client/dpop`. Token
   * requests then carry a proof of the key, so the server binds the access tokens and the refresh
   * token of a public client to it, and `fetch` sends `Authorization: DPoP` with a proof to APIs.
   * The key is discarded when the session ends. Default none (bearer tokens).
   */
  dpop?: DpopBinding
  onDiagnostic?: DiagnosticListener
}

export interface ResolvedApi {
  base: PlatformURL
  audience: string
  scope: string | undefined
}

function bad(setting: string, message: string): never {
  throw new TesseraClientError('configuration', `invalid option ${setting}: ${message}`)
}

function absolute(setting: string, v: unknown): URL {
  if (typeof v !== 'string' || v === '') bad(setting, 'must be a non-empty string')
  try {
    return new URL(v)
  } catch {
    return bad(setting, 'must be an absolute URL')
  }
}

/** Checks the options when the client is built, not on first use. */
export function validateOptions(o: TesseraClientOptions): ResolvedApi[] {
  if (!o || typeof o !== 'object') bad('options', 'must be an object')
  absolute('issuer', o.issuer)
  if (!isAllowedUrl(o.issuer)) bad('issuer', 'must use https (http only on loopback)')
  if (o.issuer.includes('?') || o.issuer.includes('#'))
    bad('issuer', 'must have no query or fragment')
  if (typeof o.clientId !== 'string' || o.clientId === '')
    bad('clientId', 'must be a non-empty string')
  const redirect = absolute('redirectUri', o.redirectUri)
  if (redirect.hash !== '') bad('redirectUri', 'must not contain a fragment')
  if (o.postLogoutRedirectUri !== undefined)
    absolute('postLogoutRedirectUri', o.postLogoutRedirectUri)
  for (const [k, v] of [
    ['skewSeconds', o.skewSeconds],
    ['clockToleranceSeconds', o.clockToleranceSeconds],
    ['requestTimeoutMs', o.requestTimeoutMs],
    ['resumeJitterMs', o.resumeJitterMs],
  ] as const) {
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
      bad(k, 'must be a number >= 0')
    }
  }
  if (
    o.refreshTokenDelivery !== undefined &&
    o.refreshTokenDelivery !== 'body' &&
    o.refreshTokenDelivery !== 'cookie'
  ) {
    bad('refreshTokenDelivery', "must be 'body' or 'cookie'")
  }
  if (o.idleTimeout !== undefined) {
    if (!(o.idleTimeout.seconds > 0)) bad('idleTimeout.seconds', 'must be > 0')
    if (o.idleTimeout.action !== 'sign-out' && o.idleTimeout.action !== 'lock') {
      bad('idleTimeout.action', "must be 'sign-out' or 'lock'")
    }
  }
  const apis: ResolvedApi[] = []
  for (const [i, api] of (o.apis ?? []).entries()) {
    const base = absolute(`apis[${i}].baseUrl`, api.baseUrl)
    if (base.search !== '' || base.hash !== '')
      bad(`apis[${i}].baseUrl`, 'must have no query or fragment')
    if (typeof api.audience !== 'string' || api.audience === '') {
      bad(`apis[${i}].audience`, 'must be a non-empty string')
    }
    if (apis.some((a) => a.base.href === base.href)) bad(`apis[${i}].baseUrl`, 'is listed twice')
    apis.push({ base, audience: api.audience, scope: api.scope })
  }
  return apis
}

/** The API whose base URL is the longest prefix of `url` on a path-segment boundary. */
export function apiForUrl(apis: readonly ResolvedApi[], url: string): ResolvedApi | undefined {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return undefined
  }
  let best: ResolvedApi | undefined
  for (const api of apis) {
    if (api.base.origin !== u.origin) continue
    const prefix = api.base.pathname.endsWith('/') ? api.base.pathname : api.base.pathname + '/'
    const path = u.pathname.endsWith('/') ? u.pathname : u.pathname + '/'
    if (!path.startsWith(prefix)) continue
    if (!best || api.base.pathname.length > best.base.pathname.length) best = api
  }
  return best
}
