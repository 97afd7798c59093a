import type { PlatformURL } from '../platform-types.js'
import { asClientError, TesseraClientError, type TesseraClientErrorCode } from '../errors.js'
import type { IdTokenClaims } from '../oauth/id-token.js'
import { issuerMismatch } from '../oauth/metadata.js'
import { createPkce, randomToken } from '../oauth/pkce.js'
import { tokenRequest } from '../oauth/token-endpoint.js'
import type { SignInTransaction, StoredSession, StoredToken } from '../session/stored-session.js'
import type { DiagnosticsHub } from './diagnostics-hub.js'
import type { Environment } from './environment.js'
import { cookieMismatch, type ServerConnection } from './server.js'
import type { SessionHolder } from './session-holder.js'
import type { TokenCache } from './token-cache.js'

const DEFAULT_SCOPE = 'openid profile email offline_access'
/** Sign-in transactions older than this are dropped. */
const TRANSACTION_TTL_MS = 10 * 60_000

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

export interface SignInOptions {
  /** Where to go after sign-in; returned by `handleRedirectCallback`. Default: the `returnTo`
   * captured when the last session ended, else the current URL. */
  returnTo?: string
  /** OIDC `prompt` (`login`, `none`). */
  prompt?: string
  /** OIDC `acr_values`: authentication levels to ask for (`urn:tessera:acr:mfa`), as an API's
   * RFC 9470 challenge names them. */
  acrValues?: string[]
  /** OIDC `max_age`: seconds since the user's last sign-in beyond which they must sign in again;
   * 0 also sends `prompt=login`. */
  maxAge?: number
  loginHint?: string
  /** More authorization parameters. They cannot override the protocol ones. */
  extraParams?: Record<string, string>
  /** Call `navigate` with the URL. Default true when `navigate` is configured. */
  navigate?: boolean
}

export interface CallbackResult {
  returnTo: string | null
  user: IdTokenClaims | null
}

export interface SignInDeps {
  env: Environment
  events: DiagnosticsHub
  holder: SessionHolder
  server: ServerConnection
  cache: TokenCache
  /** A new session is about to be stored: stop the old one's work, start a new epoch. */
  beginSession: () => number
  /** The new session is stored: start its timers. */
  sessionStarted: (key: string, token: StoredToken) => void
}

/**
 * The authorization code flow with PKCE: `signIn` builds the request and keeps a one-use
 * transaction in storage; `handleRedirectCallback` checks the response and redeems the code.
 */
export class SignInFlow {
  readonly #d: SignInDeps
  /** Callbacks being handled, by URL: a second call for the same one (React StrictMode runs
   * effects twice) shares the first's work, so the code is exchanged once (APP-13). */
  readonly #handling = new Map<string, Promise<CallbackResult>>()

  constructor(deps: SignInDeps) {
    this.#d = deps
  }

  async signIn(o: SignInOptions = {}): Promise<PlatformURL> {
    const { env, holder, server } = this.#d
    // Crypto first: a missing or half-done provider fails here, before anything is stored.
    const crypto = server.crypto()
    const state = randomToken(crypto)
    const nonce = randomToken(crypto)
    const { verifier, challenge } = await createPkce(crypto)
    // RFC 9449 10: the code is bound to the DPoP key (made now if need be), so a stolen code is
    // useless without it.
    const jkt = await env.dpop?.jkt()
    const meta = await server.metadata()
    const scopes = new Set((env.options.scope ?? DEFAULT_SCOPE).split(' ').filter((s) => s !== ''))
    for (const api of env.apis) {
      for (const s of (api.scope ?? '').split(' ')) if (s !== '') scopes.add(s)
    }
    const scope = [...scopes].join(' ')
    const returnTo = o.returnTo ?? holder.state.get().returnTo ?? env.options.currentUrl?.() ?? null
    const tx: SignInTransaction = {
      state,
      nonce,
      codeVerifier: verifier,
      redirectUri: env.options.redirectUri,
      returnTo,
      scope,
      createdAt: env.clock.now(),
    }
    await this.#updateTransactions((all) => {
      all[state] = tx
    })
    const url = new URL(meta.authorization_endpoint)
    const p = url.searchParams
    for (const [k, v] of Object.entries(o.extraParams ?? {})) {
      if (!PROTOCOL_PARAMS.has(k)) p.set(k, v)
    }
    p.set('client_id', env.clientId)
    p.set('response_type', 'code')
    p.set('redirect_uri', env.options.redirectUri)
    p.set('scope', scope)
    p.set('state', state)
    p.set('nonce', nonce)
    p.set('code_challenge', challenge)
    p.set('code_challenge_method', 'S256')
    if (jkt) p.set('dpop_jkt', jkt)
    for (const aud of new Set(env.apis.map((a) => a.audience))) p.append('resource', aud)
    if (o.acrValues) p.set('acr_values', o.acrValues.join(' '))
    if (o.maxAge !== undefined) p.set('max_age', '' + o.maxAge)
    const prompt = o.maxAge === 0 ? 'login' : o.prompt
    if (prompt !== undefined) p.set('prompt', prompt)
    if (o.loginHint !== undefined) p.set('login_hint', o.loginHint)
    if (env.options.navigate && o.navigate !== false) {
      if (!holder.session) holder.setStatus('pending', { error: null })
      env.options.navigate(url.href)
    }
    return url
  }

  async #updateTransactions(
    change: (all: Record<string, SignInTransaction>) => SignInTransaction | undefined | void,
  ): Promise<SignInTransaction | undefined> {
    const { storage, txKey, clock } = this.#d.env
    let all: Record<string, SignInTransaction> = {}
    try {
      const raw = await storage.get(txKey)
      if (raw) all = JSON.parse(raw) as Record<string, SignInTransaction>
    } catch (err) {
      if (err instanceof SyntaxError) all = {}
      else
        throw new TesseraClientError('storage_unavailable', 'sign-in state could not be read', {
          cause: err,
        })
    }
    const now = clock.now()
    for (const [k, t] of Object.entries(all)) {
      if (!t || typeof t.createdAt !== 'number' || now - t.createdAt > TRANSACTION_TTL_MS)
        delete all[k]
    }
    const result = change(all) ?? undefined
    try {
      if (Object.keys(all).length === 0) await storage.remove(txKey)
      else await storage.set(txKey, JSON.stringify(all))
    } catch (err) {
      throw new TesseraClientError('storage_unavailable', 'sign-in state could not be saved', {
        cause: err,
      })
    }
    return result
  }

  isRedirectCallback(url: string | PlatformURL): boolean {
    let u: URL
    try {
      u = new URL(String(url))
    } catch {
      return false
    }
    const r = new URL(this.#d.env.options.redirectUri)
    return (
      u.origin === r.origin &&
      u.pathname === r.pathname &&
      u.searchParams.has('state') &&
      (u.searchParams.has('code') || u.searchParams.has('error'))
    )
  }

  handleRedirectCallback(url?: string | PlatformURL): Promise<CallbackResult> {
    const href = url ?? this.#d.env.options.currentUrl?.()
    if (href === undefined)
      return Promise.reject(new TesseraClientError('configuration', 'no callback URL given'))
    const key = String(href)
    const running = this.#handling.get(key)
    if (running) return running
    const p = this.#handle(key).finally(() => this.#handling.delete(key))
    this.#handling.set(key, p)
    return p
  }

  async #handle(href: string): Promise<CallbackResult> {
    const { events, holder } = this.#d
    if (!holder.session) holder.setStatus('pending', { error: null })
    try {
      return await this.#complete(new URL(href))
    } catch (err) {
      const e = asClientError(err)
      events.emit({ type: 'error', operation: 'sign_in', code: e.code })
      if (holder.session) holder.markHealthy()
      else
        holder.setStatus('signed-out', {
          reason: 'login_required',
          error: { code: e.code, message: e.message },
        })
      throw e
    }
  }

  async #complete(u: URL): Promise<CallbackResult> {
    const { env, holder, server, cache } = this.#d
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
    const meta = await server.metadata()
    const iss = p.get('iss')
    if (iss !== null && iss !== env.issuer) {
      throw new TesseraClientError(
        'iss_mismatch',
        `${issuerMismatch('the callback iss', iss, env.issuer)} (RFC 9207)`,
      )
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
      client_id: env.clientId,
    })
    const r = await tokenRequest(env.tokenHttp, meta.token_endpoint, form, { cookie: env.cookie })
    if (!r.ok) {
      const c: TesseraClientErrorCode =
        r.error === 'invalid_grant' ? 'invalid_grant' : 'request_rejected'
      throw new TesseraClientError(
        c,
        `the token endpoint refused the code: ${r.error.slice(0, 64)}`,
        { oauthError: r.error, status: r.status },
      )
    }
    if (env.cookie && r.tokens.refresh_token !== undefined) throw cookieMismatch()
    server.observeClock(r)
    const wantsIdToken = tx.scope.split(' ').includes('openid')
    let claims: IdTokenClaims | null = null
    if (r.tokens.id_token !== undefined) {
      claims = await server.validateIdToken(r.tokens.id_token, meta, { nonce: tx.nonce })
    } else if (wantsIdToken) {
      throw new TesseraClientError('id_token_invalid', 'the token response has no ID token')
    }
    const key = env.issuer
    const token = cache.tokenFrom(r, env.issuer)
    const at = env.time.at(r.sentAt)
    const deadline = cache.refreshExpiry(r, null)
    const rec: StoredSession = {
      v: 1,
      refreshToken: r.tokens.refresh_token ?? null,
      refreshExpiresAt: deadline,
      lastActiveAt: at,
      idleMs: null,
      absoluteEndAt: null,
      idToken: r.tokens.id_token ?? null,
      claims,
      sessionId: typeof claims?.sid === 'string' ? claims.sid : null,
      tokens: { [key]: token },
      refreshStartedAt: null,
      refreshKey: null,
      clockOffsetMs: env.time.offsetMs,
    }
    // A new session: work for the old one (if any) is void from here on.
    const epoch = this.#d.beginSession()
    holder.set(rec)
    await env.tabs.withLock(env.lockName, () => holder.persist(rec, epoch))
    env.tabs.post({ type: 'signed-in' })
    holder.markHealthy()
    this.#d.sessionStarted(key, token)
    return { returnTo: tx.returnTo, user: claims }
  }
}
