import type { DiagnosticEvent, DiagnosticListener } from '../diagnostics.js'
import { asClientError, TesseraClientError, type TesseraClientErrorCode } from '../errors.js'
import { type FetchLike, type HttpContext } from '../http/http.js'
import type { Lifecycle, LifecycleEvent } from '../lifecycle/lifecycle.js'
import { backoffDelay } from '../lib/backoff.js'
import { systemClock, type Clock } from '../lib/clock.js'
import { webCrypto, WEB_CRYPTO_ALGS, type CryptoProvider } from '../lib/crypto.js'
import { decodeJwt, peekTimes } from '../lib/jwt.js'
import { ServerTime } from '../lib/server-time.js'
import { validateIdToken, type IdTokenClaims } from '../oauth/id-token.js'
import { JwksCache } from '../oauth/jwks.js'
import { discover, validateMetadata, type ServerMetadata } from '../oauth/metadata.js'
import { createPkce, randomToken } from '../oauth/pkce.js'
import {
  revokeRefreshToken,
  tokenRequest,
  type TokenResponse,
  type TokenResult,
} from '../oauth/token-endpoint.js'
import {
  SnapshotStore,
  type SessionSnapshot,
  type SessionStatus,
  type SignedOutReason,
} from '../session/session-state.js'
import {
  parseStoredSession,
  tokenKey,
  type SignInTransaction,
  type StoredSession,
  type StoredToken,
} from '../session/stored-session.js'
import { memoryStorage, type TesseraStorage } from '../storage/storage.js'
import { localTabSync, type TabMessage, type TabSync } from '../tabs/tab-sync.js'
import {
  apiForUrl,
  validateOptions,
  type ResolvedApi,
  type TesseraClientOptions,
} from './options.js'

const DEFAULT_SCOPE = 'openid profile email offline_access'
/** Sign-in transactions older than this are dropped. */
const TRANSACTION_TTL_MS = 10 * 60_000
/** While a refresh that may have rotated at the server is this young, retry quickly: the
 * server's grace window (30 s in Tessera) is still open. */
const GRACE_RETRY_MS = 25_000

export interface GetTokenOptions {
  /** The API's audience. Default: the issuer (a token for `/userinfo`). */
  audience?: string
  /** A narrower scope than the API's; tokens are cached per audience and scope. */
  scope?: string
}

export interface SignInOptions {
  /** Where to go after sign-in; returned by `handleRedirectCallback`. Default: the `returnTo`
   * captured when the last session ended, else the current URL. */
  returnTo?: string
  /** OIDC `prompt` (`login`, `none`). */
  prompt?: string
  loginHint?: string
  /** More authorization parameters. They cannot override the protocol ones. */
  extraParams?: Record<string, string>
  /** Call `navigate` with the URL. Default true when `navigate` is configured. */
  navigate?: boolean
}

export interface SignOutOptions {
  /** Default the `postLogoutRedirectUri` option. */
  postLogoutRedirectUri?: string
  /** Open the end-session URL with `navigate`. Default true when `navigate` is configured. */
  navigate?: boolean
}

export interface CallbackResult {
  returnTo: string | null
  user: IdTokenClaims | null
}

const PROTOCOL_PARAMS = new Set([
  'client_id',
  'response_type',
  'redirect_uri',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'resource',
])

/**
 * The session SDK. Build one per app with `createTesseraClient`.
 *
 * @example
 * const client = createTesseraClient({
 *   issuer: 'https://auth.example.com',
 *   clientId: 'web-app',
 *   redirectUri: 'https://app.example.com/callback',
 *   apis: [{ baseUrl: 'https://api.example.com', audience: 'https://api.example.com' }],
 * })
 * const res = await client.fetch('https://api.example.com/orders')
 */
export class TesseraClient {
  readonly #o: TesseraClientOptions
  readonly #apis: readonly ResolvedApi[]
  readonly #clock: Clock
  readonly #time: ServerTime
  readonly #crypto: CryptoProvider
  readonly #random: () => number
  readonly #storage: TesseraStorage
  readonly #tabs: TabSync
  readonly #fetch: FetchLike
  readonly #http: HttpContext
  readonly #state = new SnapshotStore()
  readonly #listeners = new Set<DiagnosticListener>()
  readonly #clearers = new Set<() => void | Promise<void>>()
  readonly #sessionKey: string
  readonly #txKey: string
  readonly #lockName: string
  readonly #skewMs: number
  /** The refresh token lives in the server's HttpOnly cookie: this client never holds it. */
  readonly #cookie: boolean
  readonly #unsubscribe: (() => void)[] = []

  #session: StoredSession | null = null
  /** A record newer than storage, kept because a write failed. */
  #unpersisted: StoredSession | null = null
  /** Bumped when the session ends or a new one begins: results of older work are dropped. */
  #epoch = 0
  #meta: Promise<ServerMetadata> | undefined
  #jwks: JwksCache | undefined
  #load: Promise<void>
  #loaded = false
  #loadFailures = 0
  /** Refreshes of one family run one after another: each presents the latest refresh token. */
  #queue: Promise<unknown> = Promise.resolve()
  readonly #inflight = new Map<string, Promise<string>>()
  readonly #keyInfo = new Map<string, { audience: string; scope: string | undefined }>()
  readonly #lastUsed = new Map<string, number>()
  readonly #rejected = new Set<string>()
  readonly #warmTimers = new Map<string, unknown>()
  #retryTimer: unknown
  #persistTimer: unknown
  #idleTimer: unknown
  #failures = 0
  #blockedUntil = 0
  #lastTransient: TesseraClientError | undefined
  #retryKey: string | undefined
  #disposed = false

  constructor(options: TesseraClientOptions) {
    this.#apis = validateOptions(options)
    this.#o = options
    this.#clock = options.clock ?? systemClock
    this.#time = new ServerTime(this.#clock)
    this.#crypto = options.crypto ?? webCrypto()
    this.#random = options.random ?? Math.random
    this.#storage = options.storage ?? memoryStorage()
    this.#tabs = options.tabs ?? localTabSync()
    const f = options.fetch ?? globalThis.fetch
    if (typeof f !== 'function') {
      throw new TesseraClientError('configuration', 'no fetch on this platform: pass `fetch`')
    }
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
    this.#http = {
      fetch: this.#fetch,
      clock: this.#clock,
      timeoutMs: options.requestTimeoutMs ?? 30_000,
    }
    const prefix = `${options.storageKeyPrefix ?? 'tessera'}.${options.clientId}`
    this.#sessionKey = `${prefix}.session`
    this.#txKey = `${prefix}.transactions`
    this.#lockName = `refresh:${options.clientId}`
    this.#skewMs = (options.skewSeconds ?? 30) * 1000
    this.#cookie = options.refreshTokenDelivery === 'cookie'
    if (options.onDiagnostic) this.#listeners.add(options.onDiagnostic)
    if (options.metadata) {
      const m = validateMetadata(
        options.issuer,
        options.metadata as unknown as Record<string, unknown>,
      )
      this.#meta = Promise.resolve(m)
    }
    this.#unsubscribe.push(this.#tabs.subscribe((m) => this.#onTabMessage(m)))
    if (options.lifecycle) {
      const lc: Lifecycle = options.lifecycle
      this.#unsubscribe.push(lc.subscribe((e) => this.#onLifecycle(e)))
    }
    this.#load = this.#start()
    this.#load.catch(() => {})
  }

  // ---------------------------------------------------------------- state

  /** The current session snapshot (immutable; a new object on every change). */
  getSnapshot = (): SessionSnapshot => this.#state.get()

  /** Calls `listener` after every snapshot change. Returns the unsubscribe function. */
  subscribe = (listener: () => void): (() => void) => this.#state.subscribe(listener)

  /** Resolves once the stored session has been read (`isLoaded`). */
  async whenLoaded(): Promise<SessionSnapshot> {
    await this.#ensureLoaded()
    return this.getSnapshot()
  }

  /** Diagnostics: cache hits, lock waits, refreshes, errors. Never secrets. */
  onDiagnostic(listener: DiagnosticListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Registers a cache clearer (e.g. a query client's `clear`), run at every sign-out. */
  onSignOut(clearer: () => void | Promise<void>): () => void {
    this.#clearers.add(clearer)
    return () => this.#clearers.delete(clearer)
  }

  #emit(e: DiagnosticEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e)
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  #setStatus(status: SessionStatus, patch: Partial<SessionSnapshot> = {}): void {
    const before = this.#state.get()
    this.#state.update({ status, ...patch })
    const after = this.#state.get()
    if (before.status !== after.status || before.reason !== after.reason) {
      this.#emit({ type: 'state', status: after.status, reason: after.reason })
    }
  }

  #sessionFields(s: StoredSession): Partial<SessionSnapshot> {
    return {
      user: s.claims ? Object.freeze({ ...s.claims }) : null,
      sessionId: s.sessionId,
      sessionExpiresAt:
        s.refreshExpiresAt === null ? null : s.refreshExpiresAt - this.#time.offsetMs,
      reason: null,
      returnTo: null,
    }
  }

  #markHealthy(): void {
    if (!this.#session) return
    if (this.#unpersisted) {
      this.#setStatus('offline', {
        ...this.#sessionFields(this.#session),
        error: { code: 'storage_unavailable', message: 'the session could not be saved' },
      })
    } else {
      this.#setStatus('signed-in', { ...this.#sessionFields(this.#session), error: null })
    }
  }

  // ---------------------------------------------------------------- loading

  async #start(): Promise<void> {
    let stored: StoredSession | null
    try {
      stored = await this.#readStored()
    } catch (err) {
      const e = asClientError(err, 'storage_unavailable')
      this.#loadFailures++
      this.#state.update({ error: { code: e.code, message: e.message } })
      this.#emit({ type: 'error', operation: 'load', code: e.code })
      const delay = backoffDelay(this.#loadFailures - 1, this.#random, this.#o.backoff)
      this.#clock.setTimeout(() => {
        if (this.#disposed || this.#loaded) return
        this.#load = this.#start()
        this.#load.catch(() => {})
      }, delay)
      throw e
    }
    this.#loaded = true
    if (stored) {
      this.#adopt(stored)
      this.#markHealthy()
      if (stored.refreshStartedAt !== null) {
        // A refresh was in flight when this context last stopped (SDK-02): the server may have
        // rotated the token, and only a prompt retry inside its grace window gets the successor.
        const key = stored.refreshKey ?? this.#o.issuer
        const info = this.#infoForKey(key)
        void this.#refresh(key, info.audience, info.scope).catch(() => {})
      } else {
        this.#scheduleAllWarm()
      }
    } else {
      this.#setStatus('signed-out', { reason: 'initial', error: null })
    }
    this.#resetIdle()
  }

  async #ensureLoaded(): Promise<void> {
    if (this.#loaded) return
    await this.#load
  }

  #infoForKey(key: string): { audience: string; scope: string | undefined } {
    const known = this.#keyInfo.get(key)
    if (known) return known
    const stored = this.#session?.tokens[key]
    if (stored)
      return {
        audience: stored.audience,
        scope: key === stored.audience ? undefined : stored.scope,
      }
    const space = key.indexOf(' ')
    return space < 0
      ? { audience: key, scope: undefined }
      : { audience: key.slice(0, space), scope: key.slice(space + 1) }
  }

  // ---------------------------------------------------------------- storage

  async #readStored(): Promise<StoredSession | null> {
    if (this.#unpersisted) {
      try {
        await this.#storage.set(this.#sessionKey, JSON.stringify(this.#unpersisted))
        this.#unpersisted = null
      } catch {
        // Storage still failing: this context holds the newest session.
        return this.#unpersisted
      }
    }
    let raw: string | null
    try {
      raw = await this.#storage.get(this.#sessionKey)
    } catch (err) {
      throw new TesseraClientError(
        'storage_unavailable',
        'the session could not be read from storage',
        {
          cause: err,
        },
      )
    }
    if (raw === null) return null
    const parsed = parseStoredSession(raw)
    if (!parsed) {
      this.#emit({ type: 'error', operation: 'read_session', code: 'storage_unavailable' })
      return null
    }
    return parsed
  }

  async #persist(rec: StoredSession, epoch: number): Promise<void> {
    if (epoch !== this.#epoch) return
    try {
      await this.#storage.set(this.#sessionKey, JSON.stringify(rec))
      if (epoch === this.#epoch) this.#unpersisted = null
    } catch {
      if (epoch !== this.#epoch) return
      this.#unpersisted = rec
      this.#emit({ type: 'error', operation: 'write_session', code: 'storage_unavailable' })
      this.#schedulePersistRetry()
    }
  }

  #schedulePersistRetry(): void {
    if (this.#persistTimer !== undefined) return
    const delay = backoffDelay(0, this.#random, this.#o.backoff)
    this.#persistTimer = this.#clock.setTimeout(() => {
      this.#persistTimer = undefined
      const rec = this.#unpersisted
      if (!rec || this.#disposed) return
      void this.#persist(rec, this.#epoch).then(() => {
        if (!this.#unpersisted) this.#markHealthy()
      })
    }, delay)
  }

  #adopt(s: StoredSession): void {
    this.#session = s
    this.#time.restore(s.clockOffsetMs)
  }

  // ---------------------------------------------------------------- metadata

  #metadata(): Promise<ServerMetadata> {
    this.#meta ??= discover(this.#http, this.#o.issuer).catch((err: unknown) => {
      this.#meta = undefined
      throw err
    })
    return this.#meta
  }

  async #jwksCache(): Promise<JwksCache> {
    const meta = await this.#metadata()
    if (!meta.jwks_uri)
      throw new TesseraClientError('configuration', 'the server publishes no jwks_uri')
    this.#jwks ??= new JwksCache(this.#http, meta.jwks_uri)
    return this.#jwks
  }

  // ---------------------------------------------------------------- sign-in

  /**
   * Starts a sign-in: a fresh PKCE pair (SDK-04), `state` and `nonce`, stored as a transaction;
   * returns the authorization URL and opens it with `navigate` when configured. Every configured
   * API is requested as a `resource`, so one sign-in covers them all.
   *
   * @see https://www.rfc-editor.org/rfc/rfc9700#section-2.1.1
   */
  async signIn(o: SignInOptions = {}): Promise<URL> {
    await this.#ensureLoaded().catch(() => {})
    const meta = await this.#metadata()
    const { verifier, challenge } = await createPkce(this.#crypto)
    const state = randomToken(this.#crypto)
    const nonce = randomToken(this.#crypto)
    const scopes = new Set((this.#o.scope ?? DEFAULT_SCOPE).split(' ').filter((s) => s !== ''))
    for (const api of this.#apis) {
      for (const s of (api.scope ?? '').split(' ')) if (s !== '') scopes.add(s)
    }
    const scope = [...scopes].join(' ')
    const returnTo = o.returnTo ?? this.#state.get().returnTo ?? this.#o.currentUrl?.() ?? null
    const tx: SignInTransaction = {
      state,
      nonce,
      codeVerifier: verifier,
      redirectUri: this.#o.redirectUri,
      returnTo,
      scope,
      createdAt: this.#clock.now(),
    }
    await this.#updateTransactions((all) => {
      all[state] = tx
    })
    const url = new URL(meta.authorization_endpoint)
    const p = url.searchParams
    for (const [k, v] of Object.entries(o.extraParams ?? {})) {
      if (!PROTOCOL_PARAMS.has(k)) p.set(k, v)
    }
    p.set('client_id', this.#o.clientId)
    p.set('response_type', 'code')
    p.set('redirect_uri', this.#o.redirectUri)
    p.set('scope', scope)
    p.set('state', state)
    p.set('nonce', nonce)
    p.set('code_challenge', challenge)
    p.set('code_challenge_method', 'S256')
    for (const aud of new Set(this.#apis.map((a) => a.audience))) p.append('resource', aud)
    if (o.prompt !== undefined) p.set('prompt', o.prompt)
    if (o.loginHint !== undefined) p.set('login_hint', o.loginHint)
    if (this.#o.navigate && o.navigate !== false) {
      if (!this.#session) this.#setStatus('pending', { error: null })
      this.#o.navigate(url.href)
    }
    return url
  }

  async #updateTransactions(
    change: (all: Record<string, SignInTransaction>) => SignInTransaction | undefined | void,
  ): Promise<SignInTransaction | undefined> {
    let all: Record<string, SignInTransaction> = {}
    try {
      const raw = await this.#storage.get(this.#txKey)
      if (raw) all = JSON.parse(raw) as Record<string, SignInTransaction>
    } catch (err) {
      if (err instanceof SyntaxError) all = {}
      else
        throw new TesseraClientError('storage_unavailable', 'sign-in state could not be read', {
          cause: err,
        })
    }
    const now = this.#clock.now()
    for (const [k, t] of Object.entries(all)) {
      if (!t || typeof t.createdAt !== 'number' || now - t.createdAt > TRANSACTION_TTL_MS)
        delete all[k]
    }
    const result = change(all) ?? undefined
    try {
      if (Object.keys(all).length === 0) await this.#storage.remove(this.#txKey)
      else await this.#storage.set(this.#txKey, JSON.stringify(all))
    } catch (err) {
      throw new TesseraClientError('storage_unavailable', 'sign-in state could not be saved', {
        cause: err,
      })
    }
    return result
  }

  /** Whether `url` is a response to one of this client's sign-ins (has `state` and `code` or
   * `error`, on the redirect URI's path). */
  isRedirectCallback(url: string | URL): boolean {
    let u: URL
    try {
      u = new URL(url)
    } catch {
      return false
    }
    const r = new URL(this.#o.redirectUri)
    return (
      u.origin === r.origin &&
      u.pathname === r.pathname &&
      u.searchParams.has('state') &&
      (u.searchParams.has('code') || u.searchParams.has('error'))
    )
  }

  /**
   * Completes a sign-in from the redirect back: checks `state` (one use), `iss` (RFC 9207), the
   * error, redeems the code with the PKCE verifier, validates the ID token (signature via JWKS,
   * `iss`, `aud`, `nonce`, `iat`, `exp`, `sub`) and stores the session (SDK-03).
   */
  async handleRedirectCallback(url?: string | URL): Promise<CallbackResult> {
    await this.#ensureLoaded().catch(() => {})
    const href = url ?? this.#o.currentUrl?.()
    if (href === undefined) throw new TesseraClientError('configuration', 'no callback URL given')
    const hadSession = this.#session !== null
    if (!hadSession) this.#setStatus('pending', { error: null })
    try {
      return await this.#completeSignIn(new URL(href))
    } catch (err) {
      const e = asClientError(err)
      this.#emit({ type: 'error', operation: 'sign_in', code: e.code })
      if (this.#session) this.#markHealthy()
      else
        this.#setStatus('signed-out', {
          reason: 'login_required',
          error: { code: e.code, message: e.message },
        })
      throw e
    }
  }

  async #completeSignIn(u: URL): Promise<CallbackResult> {
    const p = u.searchParams
    const state = p.get('state')
    if (state === null || state === '') {
      throw new TesseraClientError('state_mismatch', 'the callback has no state')
    }
    if (p.getAll('state').length > 1)
      throw new TesseraClientError('state_mismatch', 'the callback has two states')
    // One use: the transaction is deleted before anything else is checked.
    const tx = await this.#updateTransactions((all) => {
      const t = all[state]
      delete all[state]
      return t
    })
    if (!tx)
      throw new TesseraClientError(
        'state_mismatch',
        'the callback state matches no sign-in of this client',
      )
    const meta = await this.#metadata()
    const iss = p.get('iss')
    if (iss !== null && iss !== this.#o.issuer) {
      throw new TesseraClientError('iss_mismatch', 'the callback iss is not the issuer (RFC 9207)')
    }
    if (iss === null && meta.authorization_response_iss_parameter_supported === true) {
      throw new TesseraClientError(
        'iss_mismatch',
        'the callback has no iss, though the server sends it (RFC 9207)',
      )
    }
    const error = p.get('error')
    if (error !== null) {
      const code: TesseraClientErrorCode = [
        'login_required',
        'interaction_required',
        'consent_required',
      ].includes(error)
        ? 'login_required'
        : 'authorization_failed'
      throw new TesseraClientError(code, `the server refused the sign-in: ${error.slice(0, 64)}`, {
        oauthError: error,
      })
    }
    const code = p.get('code')
    if (code === null || code === '')
      throw new TesseraClientError('authorization_failed', 'the callback has no code')

    const form = new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: tx.redirectUri,
      code_verifier: tx.codeVerifier,
      client_id: this.#o.clientId,
    })
    const r = await tokenRequest(this.#http, meta.token_endpoint, form, { cookie: this.#cookie })
    if (!r.ok) {
      const c: TesseraClientErrorCode =
        r.error === 'invalid_grant' ? 'invalid_grant' : 'request_rejected'
      throw new TesseraClientError(
        c,
        `the token endpoint refused the code: ${r.error.slice(0, 64)}`,
        {
          oauthError: r.error,
          status: r.status,
        },
      )
    }
    if (this.#cookie && r.tokens.refresh_token !== undefined) throw cookieMismatch()
    this.#observeClock(r)
    const wantsIdToken = tx.scope.split(' ').includes('openid')
    let claims: IdTokenClaims | null = null
    if (r.tokens.id_token !== undefined) {
      claims = await validateIdToken(r.tokens.id_token, await this.#jwksCache(), this.#crypto, {
        issuer: this.#o.issuer,
        clientId: this.#o.clientId,
        nonce: tx.nonce,
        nowSeconds: Math.floor(this.#time.now() / 1000),
        toleranceSeconds: this.#o.clockToleranceSeconds ?? 60,
        algorithms: this.#idTokenAlgs(meta),
      })
    } else if (wantsIdToken) {
      throw new TesseraClientError('id_token_invalid', 'the token response has no ID token')
    }
    const key = this.#o.issuer
    const token = this.#storedToken(r, this.#o.issuer)
    const rec: StoredSession = {
      v: 1,
      refreshToken: r.tokens.refresh_token ?? null,
      refreshExpiresAt: this.#refreshExpiry(r, null),
      idToken: r.tokens.id_token ?? null,
      claims,
      sessionId: typeof claims?.sid === 'string' ? claims.sid : null,
      tokens: { [key]: token },
      refreshStartedAt: null,
      refreshKey: null,
      clockOffsetMs: this.#time.offsetMs,
    }
    // A new session: work for the old one (if any) is void from here on.
    this.#stopTimers()
    this.#epoch++
    this.#rejected.clear()
    this.#failures = 0
    this.#blockedUntil = 0
    this.#session = rec
    await this.#tabs.withLock(this.#lockName, () => this.#persist(rec, this.#epoch))
    this.#tabs.post({ type: 'signed-in' })
    this.#markHealthy()
    this.#resetIdle()
    this.#scheduleWarm(key, token)
    return { returnTo: tx.returnTo, user: claims }
  }

  #idTokenAlgs(meta: ServerMetadata): readonly string[] {
    const listed = meta.id_token_signing_alg_values_supported
    const algs = Array.isArray(listed) ? listed.filter((a) => a !== 'none') : ['RS256']
    return algs.filter((a) => WEB_CRYPTO_ALGS.includes(a) || this.#o.crypto !== undefined)
  }

  #observeClock(r: Extract<TokenResult, { ok: true }>): void {
    const before = this.#time.offsetMs
    const iat =
      peekTimes(r.tokens.access_token)?.iat ??
      (r.tokens.id_token ? peekTimes(r.tokens.id_token)?.iat : undefined)
    if (iat !== undefined) this.#time.observe(iat, r.sentAt, r.receivedAt)
    else if (r.date !== undefined)
      this.#time.observe(Math.floor(r.date / 1000), r.sentAt, r.receivedAt)
    if (this.#time.offsetMs !== before)
      this.#emit({ type: 'clock_offset', offsetMs: this.#time.offsetMs })
  }

  #storedToken(r: Extract<TokenResult, { ok: true }>, audience: string): StoredToken {
    // Lifetimes count from when the request left, on the server's timeline: never too long.
    const issuedAt = this.#time.at(r.sentAt)
    const t: TokenResponse = r.tokens
    const lifetime = typeof t.expires_in === 'number' && t.expires_in > 0 ? t.expires_in : undefined
    const exp = peekTimes(t.access_token)?.exp
    const expiresAt =
      lifetime !== undefined
        ? issuedAt + lifetime * 1000
        : exp !== undefined
          ? exp * 1000
          : issuedAt + 60_000
    return { accessToken: t.access_token, audience, scope: t.scope ?? '', issuedAt, expiresAt }
  }

  #refreshExpiry(r: Extract<TokenResult, { ok: true }>, previous: number | null): number | null {
    const s = r.tokens.refresh_token_expires_in
    if (typeof s === 'number' && s >= 0) return this.#time.at(r.sentAt) + s * 1000
    return previous
  }

  // ---------------------------------------------------------------- tokens

  #effectiveSkew(t: StoredToken): number {
    return Math.min(this.#skewMs, Math.max(0, (t.expiresAt - t.issuedAt) / 2))
  }

  #isFresh(t: StoredToken | undefined, extraMs = 0): t is StoredToken {
    return (
      t !== undefined &&
      !this.#rejected.has(t.accessToken) &&
      this.#time.now() + this.#effectiveSkew(t) + extraMs < t.expiresAt
    )
  }

  /**
   * An access token for `audience` (default: the issuer): the cached one while it is fresh
   * (expiry checked on every call, with skew, on the server's clock), else a refreshed one.
   * Concurrent calls share one refresh. Throws a TesseraClientError: `login_required` without a
   * session; transient codes while offline (the session is kept).
   */
  async getToken(o: GetTokenOptions = {}): Promise<string> {
    if (!this.#loaded) await this.#load
    if (this.#state.get().locked) throw new TesseraClientError('locked', 'the session is locked')
    const audience = o.audience ?? this.#o.issuer
    const key = tokenKey(audience, o.scope)
    this.#lastUsed.set(key, this.#clock.now())
    const cached = this.#session?.tokens[key]
    if (this.#isFresh(cached)) {
      if (this.#listeners.size > 0) this.#emit({ type: 'cache_hit', audience })
      return cached.accessToken
    }
    if (!this.#session)
      throw new TesseraClientError('login_required', 'there is no session: sign in')
    if (this.#listeners.size > 0) this.#emit({ type: 'cache_miss', audience })
    return this.#refresh(key, audience, o.scope)
  }

  /** Marks `accessToken` as refused by an API, so the next `getToken` refreshes. */
  invalidateToken(accessToken: string): void {
    this.#rejected.add(accessToken)
    if (this.#rejected.size > 64) {
      const first = this.#rejected.values().next().value
      if (first !== undefined) this.#rejected.delete(first)
    }
  }

  #refresh(key: string, audience: string, scope: string | undefined): Promise<string> {
    const existing = this.#inflight.get(key)
    if (existing) return existing
    if (this.#clock.now() < this.#blockedUntil && this.#lastTransient) {
      return Promise.reject(this.#lastTransient)
    }
    this.#keyInfo.set(key, { audience, scope })
    const epoch = this.#epoch
    const run = this.#queue.then(
      () => this.#refreshUnderLock(key, audience, scope, epoch),
      () => this.#refreshUnderLock(key, audience, scope, epoch),
    )
    this.#queue = run.catch(() => {})
    const p = run.then(
      (t) => {
        if (this.#inflight.get(key) === p) this.#inflight.delete(key)
        return t
      },
      (err: unknown) => {
        if (this.#inflight.get(key) === p) this.#inflight.delete(key)
        return this.#onRefreshError(err, key, epoch)
      },
    )
    this.#inflight.set(key, p)
    return p
  }

  async #refreshUnderLock(
    key: string,
    audience: string,
    scope: string | undefined,
    epoch: number,
  ): Promise<string> {
    if (epoch !== this.#epoch) throw new TesseraClientError('aborted', 'the session changed')
    const asked = this.#clock.now()
    return this.#tabs.withLock(this.#lockName, async () => {
      this.#emit({ type: 'lock_wait', waitedMs: this.#clock.now() - asked })
      if (epoch !== this.#epoch) throw new TesseraClientError('aborted', 'the session changed')
      // Another tab, or an earlier refresh here, may have done the work: read storage again.
      const stored = await this.#readStored()
      if (epoch !== this.#epoch) throw new TesseraClientError('aborted', 'the session changed')
      if (!stored) {
        // Signed out elsewhere (another tab cleared storage).
        await this.#endLocally('other_tab', {
          clearStorage: false,
          broadcast: false,
          capture: true,
        })
        throw new TesseraClientError('login_required', 'the session ended in another tab')
      }
      this.#adopt(stored)
      const t = stored.tokens[key]
      const lead = this.#warmLead.get(key) ?? 0
      if (this.#isFresh(t, lead) && stored.refreshStartedAt === null) {
        this.#markHealthy()
        return t.accessToken
      }
      return this.#refreshNetwork(stored, key, audience, scope, epoch)
    })
  }

  /** Milliseconds ahead of staleness at which a warming refresh is due, per key. */
  readonly #warmLead = new Map<string, number>()

  async #refreshNetwork(
    s: StoredSession,
    key: string,
    audience: string,
    scope: string | undefined,
    epoch: number,
  ): Promise<string> {
    if (!s.refreshToken && !this.#cookie)
      throw new TesseraClientError('login_required', 'the session has no refresh token')
    if (s.refreshExpiresAt !== null && this.#time.now() >= s.refreshExpiresAt) {
      throw new TesseraClientError('session_expired', 'the session has ended')
    }
    const afterInterruption = s.refreshStartedAt !== null
    // Written before the request leaves, with the token being presented: if this context dies
    // before the answer is stored, the next start knows to retry at once (SDK-02).
    const marked: StoredSession = {
      ...s,
      refreshStartedAt: s.refreshStartedAt ?? this.#clock.now(),
      refreshKey: key,
    }
    this.#session = marked
    await this.#persist(marked, epoch)
    this.#setStatus('refreshing', this.#sessionFields(marked))
    const started = this.#clock.now()
    this.#emit({ type: 'refresh_start', audience, afterInterruption })
    const meta = await this.#metadata()
    // In cookie mode the browser sends the refresh token, in the server's HttpOnly cookie.
    const form = new URLSearchParams({ grant_type: 'refresh_token' })
    if (!this.#cookie && s.refreshToken) form.set('refresh_token', s.refreshToken)
    form.set('client_id', this.#o.clientId)
    if (audience !== this.#o.issuer) form.set('resource', audience)
    if (scope !== undefined) form.set('scope', scope)
    let r: TokenResult
    try {
      r = await tokenRequest(this.#http, meta.token_endpoint, form, { cookie: this.#cookie })
    } catch (err) {
      const e = asClientError(err)
      this.#emit({
        type: 'refresh_end',
        audience,
        ok: false,
        durationMs: this.#clock.now() - started,
        errorCode: e.code,
      })
      throw e
    }
    if (epoch !== this.#epoch)
      throw new TesseraClientError('aborted', 'the session ended during the refresh')
    if (!r.ok) {
      let e: TesseraClientError
      if (r.error === 'invalid_grant') {
        const expired = s.refreshExpiresAt !== null && this.#time.now() >= s.refreshExpiresAt
        const code: TesseraClientErrorCode = expired
          ? 'session_expired'
          : afterInterruption
            ? 'refresh_reused'
            : 'session_revoked'
        e = new TesseraClientError(code, 'the server no longer accepts the session', {
          oauthError: r.error,
          status: r.status,
        })
      } else {
        // Refused before anything changed at the server: the token presented is still current.
        const cleared = { ...marked, refreshStartedAt: null, refreshKey: null }
        this.#session = cleared
        await this.#persist(cleared, epoch)
        e = new TesseraClientError(
          'request_rejected',
          `the server refused the refresh: ${r.error.slice(0, 64)}`,
          {
            oauthError: r.error,
            status: r.status,
          },
        )
      }
      this.#emit({
        type: 'refresh_end',
        audience,
        ok: false,
        durationMs: this.#clock.now() - started,
        errorCode: e.code,
      })
      throw e
    }
    if (this.#cookie && r.tokens.refresh_token !== undefined) throw cookieMismatch()
    this.#observeClock(r)
    const token = this.#storedToken(r, audience)
    let claims = s.claims
    let idToken = s.idToken
    let sameUserProven = false
    if (r.tokens.id_token !== undefined) {
      try {
        claims = await validateIdToken(r.tokens.id_token, await this.#jwksCache(), this.#crypto, {
          issuer: this.#o.issuer,
          clientId: this.#o.clientId,
          nonce: undefined,
          ...(s.claims ? { sub: s.claims.sub } : {}),
          nowSeconds: Math.floor(this.#time.now() / 1000),
          toleranceSeconds: this.#o.clockToleranceSeconds ?? 60,
          algorithms: this.#idTokenAlgs(meta),
        })
        idToken = r.tokens.id_token
        sameUserProven = s.claims !== null
      } catch (err) {
        // The new refresh token must be kept whatever the ID token says; keep the old claims.
        this.#emit({ type: 'error', operation: 'refresh_id_token', code: asClientError(err).code })
      }
    }
    // The browser's cookie names another session: another sign-in of this browser replaced it
    // (a tab that does not share this storage). Keep going only as the same user.
    const sid = peekSid(r.tokens.access_token)
    const switched =
      this.#cookie && s.sessionId !== null && sid !== undefined && sid !== s.sessionId
    if (switched && !sameUserProven) {
      this.#emit({
        type: 'refresh_end',
        audience,
        ok: false,
        durationMs: this.#clock.now() - started,
        errorCode: 'login_required',
      })
      // Only this context's session ended: the other tabs may hold the new one, so no broadcast.
      // This runs under the refresh lock, so storage is cleared here rather than by #endLocally.
      await this.#endLocally('other_tab', { clearStorage: false, broadcast: false, capture: true })
      await this.#storage.remove(this.#sessionKey).catch(() => {
        this.#emit({ type: 'error', operation: 'clear_storage', code: 'storage_unavailable' })
      })
      throw new TesseraClientError(
        'login_required',
        'another sign-in in this browser replaced the session',
      )
    }
    const now = this.#time.now()
    const tokens: Record<string, StoredToken> = {}
    if (!switched) {
      for (const [k, v] of Object.entries(s.tokens)) {
        if (v.expiresAt > now && k !== key) tokens[k] = v
      }
    }
    tokens[key] = token
    const next: StoredSession = {
      v: 1,
      refreshToken: this.#cookie ? null : (r.tokens.refresh_token ?? s.refreshToken),
      refreshExpiresAt: this.#refreshExpiry(r, s.refreshExpiresAt),
      idToken,
      claims,
      sessionId: typeof claims?.sid === 'string' ? claims.sid : s.sessionId,
      tokens,
      refreshStartedAt: null,
      refreshKey: null,
      clockOffsetMs: this.#time.offsetMs,
    }
    if (epoch !== this.#epoch)
      throw new TesseraClientError('aborted', 'the session ended during the refresh')
    this.#session = next
    await this.#persist(next, epoch)
    this.#tabs.post({ type: 'tokens-updated' })
    this.#failures = 0
    this.#blockedUntil = 0
    this.#lastTransient = undefined
    if (this.#retryTimer !== undefined) {
      this.#clock.clearTimeout(this.#retryTimer)
      this.#retryTimer = undefined
    }
    this.#markHealthy()
    this.#scheduleWarm(key, token)
    this.#emit({ type: 'refresh_end', audience, ok: true, durationMs: this.#clock.now() - started })
    return token.accessToken
  }

  async #onRefreshError(err: unknown, key: string, epoch: number): Promise<never> {
    const e = asClientError(err)
    if (e.code === 'aborted' || epoch !== this.#epoch) throw e
    this.#emit({ type: 'error', operation: 'refresh', code: e.code })
    if (e.terminal) {
      const reason: SignedOutReason =
        e.code === 'session_expired'
          ? 'session_expired'
          : e.code === 'refresh_reused'
            ? 'refresh_reused'
            : e.code === 'session_revoked'
              ? 'session_revoked'
              : 'login_required'
      // Only terminal errors clear the session; no automatic sign-in follows, so no loop.
      if (this.#session)
        await this.#endLocally(reason, { clearStorage: true, broadcast: true, capture: true })
      throw e
    }
    if (e.transient) this.#onTransient(e, key)
    else if (this.#session) this.#markHealthy()
    throw e
  }

  #onTransient(e: TesseraClientError, key: string): void {
    this.#failures++
    let delay = backoffDelay(this.#failures - 1, this.#random, this.#o.backoff)
    if (e.retryAfterSeconds !== undefined) delay = Math.max(delay, e.retryAfterSeconds * 1000)
    const started = this.#session?.refreshStartedAt
    if (
      e.retryAfterSeconds === undefined &&
      started !== null &&
      started !== undefined &&
      this.#clock.now() - started < GRACE_RETRY_MS
    ) {
      delay = Math.min(delay, 5_000)
    }
    this.#blockedUntil = this.#clock.now() + delay
    this.#lastTransient = e
    this.#retryKey = key
    if (this.#session) {
      this.#setStatus('offline', {
        ...this.#sessionFields(this.#session),
        error: { code: e.code, message: e.message },
      })
    }
    if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer)
    this.#retryTimer = this.#clock.setTimeout(() => this.#retryNow(), delay)
    this.#emit({ type: 'retry_scheduled', inMs: delay, errorCode: e.code })
  }

  #retryNow(): void {
    if (this.#retryTimer !== undefined) {
      this.#clock.clearTimeout(this.#retryTimer)
      this.#retryTimer = undefined
    }
    const key = this.#retryKey
    if (this.#disposed || !this.#session || key === undefined) return
    this.#blockedUntil = 0
    const info = this.#infoForKey(key)
    void this.#refresh(key, info.audience, info.scope).catch(() => {})
  }

  // ---------------------------------------------------------------- timers

  #scheduleWarm(key: string, t: StoredToken): void {
    if (this.#o.autoRefresh === false || this.#disposed) return
    const old = this.#warmTimers.get(key)
    if (old !== undefined) this.#clock.clearTimeout(old)
    const lifetime = t.expiresAt - t.issuedAt
    const maxLead = Math.min(30_000, lifetime / 4)
    const lead = this.#random() * maxLead
    const delay = Math.max(0, t.expiresAt - this.#time.now() - this.#effectiveSkew(t) - lead)
    const timer = this.#clock.setTimeout(() => {
      this.#warmTimers.delete(key)
      this.#warm(key, maxLead, lifetime)
    }, delay)
    this.#warmTimers.set(key, timer)
  }

  /** Refreshes a token that was used within its last lifetime, ahead of its expiry. */
  #warm(key: string, lead: number, lifetime: number): void {
    if (!this.#session || this.#disposed || this.#state.get().locked) return
    if (this.#o.lifecycle?.isForeground?.() === false) return
    const used = this.#lastUsed.get(key)
    if (used === undefined || this.#clock.now() - used > lifetime) return
    const info = this.#infoForKey(key)
    this.#warmLead.set(key, lead)
    void this.#refresh(key, info.audience, info.scope)
      .catch(() => {})
      .finally(() => this.#warmLead.delete(key))
  }

  #scheduleAllWarm(): void {
    const s = this.#session
    if (!s) return
    for (const [k, t] of Object.entries(s.tokens)) this.#scheduleWarm(k, t)
  }

  #stopTimers(): void {
    for (const t of this.#warmTimers.values()) this.#clock.clearTimeout(t)
    this.#warmTimers.clear()
    if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
    if (this.#persistTimer !== undefined) this.#clock.clearTimeout(this.#persistTimer)
    this.#persistTimer = undefined
  }

  #resetIdle(): void {
    const idle = this.#o.idleTimeout
    if (!idle || this.#disposed) return
    if (this.#idleTimer !== undefined) this.#clock.clearTimeout(this.#idleTimer)
    this.#idleTimer = undefined
    if (!this.#session) return
    this.#idleTimer = this.#clock.setTimeout(() => {
      this.#idleTimer = undefined
      if (!this.#session) return
      if (idle.action === 'lock') this.#state.update({ locked: true })
      else void this.#signOutLocal('idle_timeout').catch(() => {})
    }, idle.seconds * 1000)
  }

  /** Lifts the idle-timeout lock (after the app re-checked the user, e.g. with biometrics). */
  unlock(): void {
    this.#state.update({ locked: false })
    this.#resetIdle()
  }

  #onLifecycle(e: LifecycleEvent): void {
    if (this.#disposed) return
    if (e === 'activity') {
      if (!this.#state.get().locked) this.#resetIdle()
      return
    }
    if (e !== 'foreground' && e !== 'online') return
    if (!this.#session) return
    // Resume: retry what failed and warm what is stale, after a jitter.
    const jitter = this.#random() * (this.#o.resumeJitterMs ?? 3000)
    this.#clock.setTimeout(() => {
      if (!this.#session || this.#disposed) return
      const blockedBy = this.#lastTransient?.code
      if (this.#blockedUntil > this.#clock.now() && blockedBy !== 'rate_limited') this.#retryNow()
      const s = this.#session
      for (const [k, t] of Object.entries(s.tokens)) {
        const lifetime = t.expiresAt - t.issuedAt
        const lead = Math.min(30_000, lifetime / 4)
        if (!this.#isFresh(t, lead)) this.#warm(k, lead, lifetime)
        else this.#scheduleWarm(k, t)
      }
    }, jitter)
  }

  #onTabMessage(m: TabMessage): void {
    if (this.#disposed) return
    this.#emit({ type: 'tab_message', message: m.type })
    if (m.type === 'signed-out') {
      if (this.#session)
        void this.#endLocally('other_tab', { clearStorage: false, broadcast: false, capture: true })
      return
    }
    // Another tab refreshed or signed in: take its session from storage.
    const epoch = this.#epoch
    void this.#readStored()
      .then((s) => {
        if (epoch !== this.#epoch || !s) return
        if (m.type === 'signed-in' && this.#session?.sessionId !== s.sessionId) {
          this.#stopTimers()
          this.#epoch++
          this.#rejected.clear()
        }
        this.#adopt(s)
        // Another tab reached the server: whatever kept this one offline is over.
        this.#failures = 0
        this.#blockedUntil = 0
        this.#lastTransient = undefined
        this.#markHealthy()
        this.#scheduleAllWarm()
        this.#resetIdle()
      })
      .catch(() => {})
  }

  // ---------------------------------------------------------------- fetch

  /**
   * `fetch` with the right access token: requests under a configured API's `baseUrl` get its
   * token; others go out untouched. A 401 whose `WWW-Authenticate` says `error="invalid_token"`
   * refreshes once and replays the request once; a second 401 is returned as is. Requests made
   * while a refresh runs wait for it.
   */
  fetch = async (input: Request | string | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init)
    const api = apiForUrl(this.#apis, request.url)
    if (!api) return this.#fetch(request)
    const replay = request.clone()
    const opts = { audience: api.audience }
    const token = await this.getToken(opts)
    const first = await this.#fetch(withBearer(request, token))
    if (first.status !== 401 || !saysInvalidToken(first.headers.get('www-authenticate')))
      return first
    this.#emit({ type: 'token_rejected', audience: api.audience })
    this.invalidateToken(token)
    const fresh = await this.getToken(opts)
    if (fresh === token) return first
    this.#emit({ type: 'replay', audience: api.audience })
    return this.#fetch(withBearer(replay, fresh))
  }

  /** The configured API (audience) a URL belongs to, if any. */
  audienceFor(url: string): string | undefined {
    return apiForUrl(this.#apis, url)?.audience
  }

  // ---------------------------------------------------------------- sign-out

  /**
   * Signs out, local first: stops timers, clears memory and storage, runs the cache clearers,
   * tells the other tabs; then, best effort, revokes the refresh token (RFC 7009) and opens the
   * server's end-session URL (RP-Initiated Logout) with `navigate`, or returns it.
   */
  async signOut(o: SignOutOptions = {}): Promise<{ endSessionUrl: URL | undefined }> {
    await this.#ensureLoaded().catch(() => {})
    const s = this.#session
    await this.#signOutLocal('sign_out')
    if (!s) return { endSessionUrl: undefined }
    let meta: ServerMetadata | undefined
    try {
      meta = await this.#metadata()
    } catch {
      meta = undefined
    }
    if (meta?.revocation_endpoint && (s.refreshToken || this.#cookie)) {
      try {
        // Cookie mode: the server revokes the token of its cookie and clears the cookie.
        const ok = await revokeRefreshToken(
          this.#http,
          meta.revocation_endpoint,
          this.#o.clientId,
          this.#cookie ? null : s.refreshToken,
          { cookie: this.#cookie },
        )
        this.#emit({ type: 'sign_out', step: ok ? 'revoked' : 'revoke_failed' })
      } catch {
        this.#emit({ type: 'sign_out', step: 'revoke_failed' })
      }
    }
    let endSessionUrl: URL | undefined
    if (meta?.end_session_endpoint) {
      endSessionUrl = new URL(meta.end_session_endpoint)
      const q = endSessionUrl.searchParams
      q.set('client_id', this.#o.clientId)
      if (s.idToken) q.set('id_token_hint', s.idToken)
      const after = o.postLogoutRedirectUri ?? this.#o.postLogoutRedirectUri
      if (after !== undefined) q.set('post_logout_redirect_uri', after)
      if (this.#o.navigate && o.navigate !== false) this.#o.navigate(endSessionUrl.href)
    }
    return { endSessionUrl }
  }

  async #signOutLocal(reason: SignedOutReason): Promise<void> {
    await this.#endLocally(reason, { clearStorage: true, broadcast: true, capture: false })
  }

  async #endLocally(
    reason: SignedOutReason,
    o: { clearStorage: boolean; broadcast: boolean; capture: boolean },
  ): Promise<void> {
    // 1. Stop everything this context does for the session, at once.
    this.#stopTimers()
    if (this.#idleTimer !== undefined) this.#clock.clearTimeout(this.#idleTimer)
    this.#idleTimer = undefined
    this.#epoch++
    const epoch = this.#epoch
    this.#session = null
    this.#unpersisted = null
    this.#inflight.clear()
    this.#rejected.clear()
    this.#lastUsed.clear()
    this.#failures = 0
    this.#blockedUntil = 0
    this.#lastTransient = undefined
    const returnTo = o.capture ? (this.#o.currentUrl?.() ?? null) : null
    this.#setStatus('signed-out', {
      reason,
      user: null,
      sessionId: null,
      sessionExpiresAt: null,
      error: null,
      returnTo,
      locked: false,
    })
    this.#emit({ type: 'sign_out', step: 'local' })
    // 2. Tell the other tabs first, so they drop their copy and any refresh they have in flight.
    if (o.broadcast) this.#tabs.post({ type: 'signed-out', reason })
    // 3. Caches of the app (query clients, ...).
    for (const c of [...this.#clearers]) {
      try {
        await c()
      } catch {
        this.#emit({ type: 'error', operation: 'cache_clearer', code: 'aborted' })
      }
    }
    // 4. Storage, under the refresh lock, so a refresh in another tab cannot write it back after.
    if (o.clearStorage) {
      try {
        await this.#tabs.withLock(this.#lockName, async () => {
          if (epoch !== this.#epoch) return
          await this.#storage.remove(this.#sessionKey)
        })
        this.#emit({ type: 'sign_out', step: 'storage_cleared' })
      } catch {
        this.#emit({ type: 'error', operation: 'clear_storage', code: 'storage_unavailable' })
      }
    }
  }

  /** Stops timers and listeners. The session stays in storage. */
  dispose(): void {
    this.#disposed = true
    this.#stopTimers()
    if (this.#idleTimer !== undefined) this.#clock.clearTimeout(this.#idleTimer)
    for (const u of this.#unsubscribe) u()
    this.#unsubscribe.length = 0
    this.#listeners.clear()
  }
}

function cookieMismatch(): TesseraClientError {
  return new TesseraClientError(
    'configuration',
    "the server sent the refresh token in the response body: configure refreshTokenDelivery 'cookie' for this client at the server",
  )
}

/** The `sid` of a JWT access token, read without verification (it came from the token endpoint). */
function peekSid(token: string): string | undefined {
  try {
    const sid = decodeJwt(token).payload.sid
    return typeof sid === 'string' ? sid : undefined
  } catch {
    return undefined
  }
}

/** Whether a `WWW-Authenticate` value carries a Bearer challenge with `error="invalid_token"`. */
export function saysInvalidToken(header: string | null): boolean {
  if (header === null) return false
  return /(^|,)\s*bearer\b[^]*?\berror\s*=\s*"?invalid_token"?/i.test(header)
}

function withBearer(req: Request, token: string): Request {
  const headers = new Headers(req.headers)
  headers.set('authorization', `Bearer ${token}`)
  return new Request(req, { headers })
}

/**
 * Builds a client. Options are validated here: a bad issuer, redirect URI or API throws a
 * `configuration` error at once.
 */
export function createTesseraClient(options: TesseraClientOptions): TesseraClient {
  return new TesseraClient(options)
}
