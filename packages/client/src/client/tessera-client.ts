import type { FetchInit, FetchInput, FetchResponse, PlatformURL } from '../platform-types.js'
import type { DiagnosticListener } from '../diagnostics.js'
import { asClientError, TesseraClientError } from '../errors.js'
import { backoffDelay } from '../lib/backoff.js'
import type { SessionSnapshot } from '../session/session-state.js'
import { tokenKey, type StoredSession, type StoredToken } from '../session/stored-session.js'
import { authenticatedFetch } from './authenticated-fetch.js'
import { BackoffState } from './backoff-state.js'
import { DiagnosticsHub } from './diagnostics-hub.js'
import { createEnvironment, DEVICE_OFFLINE, type Environment } from './environment.js'
import { IdleTimer } from './idle-timer.js'
import { apiForUrl, type TesseraClientOptions } from './options.js'
import { PlatformEvents } from './platform-events.js'
import { Refresher } from './refresher.js'
import { ServerConnection } from './server.js'
import { SessionHolder } from './session-holder.js'
import { SignInFlow, type CallbackResult, type SignInOptions } from './sign-in-flow.js'
import { SignOutFlow, type SignOutOptions } from './sign-out.js'
import { TokenCache } from './token-cache.js'
import { WarmTimers } from './warm-timers.js'

export { saysInvalidToken, stepUpChallenge } from './authenticated-fetch.js'
export type { CallbackResult, SignInOptions } from './sign-in-flow.js'
export type { SignOutOptions } from './sign-out.js'

/** `stepUp`'s options: `acrValues` and `maxAge` as the API's challenge named them. */
export type StepUpOptions = SignInOptions

export interface GetTokenOptions {
  /** The API's audience. Default: the issuer (a token for `/userinfo`). */
  audience?: string
  /** A narrower scope than the API's; tokens are cached per audience and scope. */
  scope?: string
}

/**
 * The session SDK. Build one per app with `createTesseraClient`.
 *
 * A thin front over separate pieces (src/client): the session holder (record, storage,
 * snapshot), the sign-in flow, the token cache, the refresher (its decisions are pure functions
 * in refresh-decisions.ts), the backoff state, the warming and idle timers, the platform events,
 * the authenticated fetch and the sign-out flow.
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
  readonly #env: Environment
  readonly #events = new DiagnosticsHub()
  readonly #holder: SessionHolder
  readonly #cache: TokenCache
  readonly #backoff: BackoffState
  readonly #warm: WarmTimers
  readonly #idle: IdleTimer
  readonly #refresher: Refresher
  readonly #signOut: SignOutFlow
  readonly #signIn: SignInFlow
  readonly #platform: PlatformEvents
  #load: Promise<void>
  #loaded = false
  #loadFailures = 0
  #disposed = false

  constructor(options: TesseraClientOptions) {
    const env = createEnvironment(options)
    this.#env = env
    const events = this.#events
    if (options.onDiagnostic) events.add(options.onDiagnostic)
    const holder = (this.#holder = new SessionHolder(env, events))
    const server = new ServerConnection(env, events)
    const cache = (this.#cache = new TokenCache(env))
    const backoff = (this.#backoff = new BackoffState(env))
    const warm = (this.#warm = new WarmTimers(env, (k, lead, lifetime) =>
      this.#refresher.warm(k, lead, lifetime),
    ))
    const idle = (this.#idle = new IdleTimer(env, (action) => {
      if (!holder.session) return
      if (action === 'lock') holder.state.update({ locked: true })
      else
        void signOut
          .endLocally('idle_timeout', { clearStorage: true, broadcast: true, capture: false })
          .catch(() => {})
    }))
    const signOut = (this.#signOut = new SignOutFlow({
      env,
      events,
      holder,
      metadata: () => server.metadata(),
      stopSessionWork: () => {
        this.#stopTimers()
        idle.stop()
        this.#refresher.clear()
        cache.clear()
        backoff.reset()
      },
    }))
    const endLocally = signOut.endLocally.bind(signOut)
    const refresher = (this.#refresher = new Refresher({
      env,
      events,
      holder,
      server,
      cache,
      backoff,
      warm,
      endLocally,
    }))
    const beginSession = (): number => {
      this.#stopTimers()
      backoff.reset()
      cache.forgetRejected()
      return holder.nextEpoch()
    }
    this.#signIn = new SignInFlow({
      env,
      events,
      holder,
      server,
      cache,
      beginSession,
      sessionStarted: (key, token) => {
        idle.reset(true)
        warm.schedule(key, token)
      },
    })
    this.#platform = new PlatformEvents({
      env,
      events,
      holder,
      cache,
      backoff,
      warm,
      idle,
      refresher,
      endLocally,
      beginSession,
    })
    this.fetch = authenticatedFetch({
      ...env, // apis, fetch, send
      events,
      getToken: (o) => this.getToken(o),
      invalidateToken: (t) => this.invalidateToken(t),
    })
    this.#load = this.#start()
    this.#load.catch(() => {})
  }

  // ---------------------------------------------------------------- state

  /** The current session snapshot (immutable; a new object on every change). */
  getSnapshot = (): SessionSnapshot => this.#holder.state.get()

  /** Calls `listener` after every snapshot change. Returns the unsubscribe function. */
  subscribe = (listener: () => void): (() => void) => this.#holder.state.subscribe(listener)

  /** Resolves once the stored session has been read (`isLoaded`). */
  async whenLoaded(): Promise<SessionSnapshot> {
    await this.#ensureLoaded()
    return this.getSnapshot()
  }

  /** Diagnostics: cache hits, lock waits, refreshes, errors. Never secrets. */
  onDiagnostic(listener: DiagnosticListener): () => void {
    return this.#events.add(listener)
  }

  /** Registers a cache clearer (e.g. a query client's `clear`), run at every sign-out. */
  onSignOut(clearer: () => void | Promise<void>): () => void {
    return this.#signOut.onSignOut(clearer)
  }

  // ---------------------------------------------------------------- loading

  async #start(): Promise<void> {
    const holder = this.#holder
    const env = this.#env
    let stored: StoredSession | null
    try {
      stored = await holder.read()
    } catch (err) {
      const e = asClientError(err, 'storage_unavailable')
      this.#loadFailures++
      holder.state.update({ error: { code: e.code, message: e.message } })
      this.#events.emit({ type: 'error', operation: 'load', code: e.code })
      const delay = backoffDelay(this.#loadFailures - 1, env.random, env.options.backoff)
      env.clock.setTimeout(() => {
        if (this.#disposed || this.#loaded) return
        this.#load = this.#start()
        this.#load.catch(() => {})
      }, delay)
      throw e
    }
    this.#loaded = true
    if (stored) {
      holder.adopt(stored)
      holder.markHealthy()
      if (env.options.lifecycle?.isOnline?.() === false) {
        // Cold start offline (APP-04): signed in, marked offline; nothing is sent until `online`.
        holder.offline({ code: 'network', message: DEVICE_OFFLINE })
      }
      if (stored.refreshStartedAt !== null) {
        // A refresh was in flight when this context last stopped (SDK-02): the server may have
        // rotated the token, and only a prompt retry inside its grace window gets the successor.
        void this.#refresher.refreshKey(stored.refreshKey ?? env.issuer).catch(() => {})
      } else {
        this.#warm.scheduleAll(stored)
      }
    } else {
      holder.setStatus('signed-out', { reason: 'initial', error: null })
    }
    this.#idle.reset(holder.session !== null)
  }

  async #ensureLoaded(): Promise<void> {
    if (this.#loaded) return
    await this.#load
  }

  #stopTimers(): void {
    this.#warm.stop()
    this.#backoff.stop()
    this.#holder.stopTimers()
  }

  // ---------------------------------------------------------------- sign-in

  /**
   * Starts a sign-in: a fresh PKCE pair (SDK-04), `state` and `nonce`, stored as a transaction;
   * returns the authorization URL and opens it with `navigate` when configured. Every configured
   * API is requested as a `resource`, so one sign-in covers them all.
   *
   * @see https://www.rfc-editor.org/rfc/rfc9700#section-2.1.1
   */
  async signIn(o: SignInOptions = {}): Promise<PlatformURL> {
    await this.#ensureLoaded().catch(() => {})
    return this.#signIn.signIn(o)
  }

  /**
   * Step-up (RFC 9470 4): the hosted sign-in again, asking for `acr_values` and `max_age` as an
   * API's 401 `insufficient_user_authentication` named them (the `step_up_required` event), so
   * the user proves a fresh or stronger sign-in. The session stays meanwhile;
   * `handleRedirectCallback` replaces it with the new one and returns `returnTo`, and the next
   * token for the API carries the new `auth_time` and `acr`.
   *
   * @example
   * client.onDiagnostic((e) => {
   *   if (e.type === 'step_up_required') void client.stepUp({ ...e, returnTo: location.href })
   * })
   * @see https://www.rfc-editor.org/rfc/rfc9470#section-4
   */
  stepUp(o: StepUpOptions): Promise<PlatformURL> {
    return this.signIn(o)
  }

  /** Whether `url` is a response to one of this client's sign-ins (has `state` and `code` or
   * `error`, on the redirect URI's path). */
  isRedirectCallback(url: string | PlatformURL): boolean {
    return this.#signIn.isRedirectCallback(url)
  }

  /**
   * Completes a sign-in from the redirect back: checks `state` (one use), `iss` (RFC 9207), the
   * error, redeems the code with the PKCE verifier, validates the ID token (signature via JWKS,
   * `iss`, `aud`, `nonce`, `iat`, `exp`, `sub`) and stores the session (SDK-03).
   */
  async handleRedirectCallback(url?: string | PlatformURL): Promise<CallbackResult> {
    await this.#ensureLoaded().catch(() => {})
    return this.#signIn.handleRedirectCallback(url)
  }

  // ---------------------------------------------------------------- tokens

  /**
   * An access token for `audience` (default: the issuer): the cached one while it is fresh
   * (expiry checked on every call, with skew, on the server's clock), else a refreshed one.
   * Concurrent calls share one refresh. Throws a TesseraClientError: `login_required` without a
   * session; transient codes while offline (the session is kept).
   */
  async getToken(o: GetTokenOptions = {}): Promise<string> {
    if (!this.#loaded) await this.#load
    const holder = this.#holder
    if (holder.state.get().locked) throw new TesseraClientError('locked', 'the session is locked')
    const audience = o.audience ?? this.#env.issuer
    const key = tokenKey(audience, o.scope)
    this.#cache.touch(key)
    const cached: StoredToken | undefined = holder.session?.tokens[key]
    if (this.#cache.isFresh(cached)) {
      if (this.#events.active) this.#events.emit({ type: 'cache_hit', audience })
      return cached.accessToken
    }
    if (!holder.session)
      throw new TesseraClientError('login_required', 'there is no session: sign in')
    if (this.#events.active) this.#events.emit({ type: 'cache_miss', audience })
    return this.#refresher.refresh(key, audience, o.scope)
  }

  /** Marks `accessToken` as refused by an API, so the next `getToken` refreshes. */
  invalidateToken(accessToken: string): void {
    this.#cache.invalidate(accessToken)
  }

  /** Lifts the idle-timeout lock (after the app re-checked the user, e.g. with biometrics). */
  unlock(): void {
    this.#holder.state.update({ locked: false })
    this.#idle.reset(this.#holder.session !== null)
  }

  // ---------------------------------------------------------------- fetch

  /**
   * `fetch` with the right access token: requests under a configured API's `baseUrl` get its
   * token; others go out untouched. A 401 whose `WWW-Authenticate` says `error="invalid_token"`
   * refreshes once and replays the request once; a second 401 is returned as is. Requests made
   * while a refresh runs wait for it.
   */
  readonly fetch: (input: FetchInput, init?: FetchInit) => Promise<FetchResponse>

  /** The configured API (audience) a URL belongs to, if any. */
  audienceFor(url: string): string | undefined {
    return apiForUrl(this.#env.apis, url)?.audience
  }

  // ---------------------------------------------------------------- sign-out

  /**
   * Signs out, local first: stops timers, clears memory and storage, runs the cache clearers,
   * tells the other tabs; then, best effort, revokes the refresh token (RFC 7009) and opens the
   * server's end-session URL (RP-Initiated Logout) with `navigate`, or returns it.
   */
  async signOut(o: SignOutOptions = {}): Promise<{ endSessionUrl: PlatformURL | undefined }> {
    await this.#ensureLoaded().catch(() => {})
    return this.#signOut.signOut(o)
  }

  /** Stops timers and listeners. The session stays in storage. */
  dispose(): void {
    this.#disposed = true
    this.#warm.dispose()
    this.#backoff.stop()
    this.#holder.dispose()
    this.#idle.dispose()
    this.#refresher.dispose()
    this.#platform.dispose()
    this.#events.clear()
  }
}

/**
 * Builds a client. Options are validated here: a bad issuer, redirect URI or API throws a
 * `configuration` error at once.
 */
export function createTesseraClient(options: TesseraClientOptions): TesseraClient {
  return new TesseraClient(options)
}
