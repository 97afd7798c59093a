import { asClientError, TesseraClientError } from '../errors.js'
import { decodeJwt } from '../lib/jwt.js'
import type { IdTokenClaims } from '../oauth/id-token.js'
import { tokenRequest, type TokenResult } from '../oauth/token-endpoint.js'
import type { SignedOutReason } from '../session/session-state.js'
import type { StoredSession } from '../session/stored-session.js'
import type { BackoffState } from './backoff-state.js'
import type { DiagnosticsHub } from './diagnostics-hub.js'
import { DEVICE_OFFLINE, type Environment } from './environment.js'
import {
  invalidGrantCode,
  mergeTokens,
  retryLostResponse,
  shouldWarm,
  signedOutReason,
} from './refresh-decisions.js'
import { cookieMismatch, type ServerConnection } from './server.js'
import { learnSessionTimes } from './session-times.js'
import type { SessionHolder } from './session-holder.js'
import type { TokenCache } from './token-cache.js'
import type { WarmTimers } from './warm-timers.js'

/** How the refresher ends the session of this context (see SignOutFlow.endLocally). */
export type EndLocally = (
  reason: SignedOutReason,
  o: { clearStorage: boolean; broadcast: boolean; capture: boolean },
) => Promise<void>

export interface RefresherDeps {
  env: Environment
  events: DiagnosticsHub
  holder: SessionHolder
  server: ServerConnection
  cache: TokenCache
  backoff: BackoffState
  warm: WarmTimers
  endLocally: EndLocally
}

/**
 * Refreshes access tokens: one refresh in flight per key (single flight), refreshes of one
 * session one after another (each presents the latest refresh token), under the tabs' lock, with
 * the SDK-02 marker written before the request leaves. Decisions come from refresh-decisions.ts.
 */
export class Refresher {
  readonly #d: RefresherDeps
  readonly #inflight = new Map<string, Promise<string>>()
  /** Refreshes of one family run one after another: each presents the latest refresh token. */
  #queue: Promise<unknown> = Promise.resolve()
  #disposed = false

  constructor(deps: RefresherDeps) {
    this.#d = deps
  }

  /** Forgets the refreshes in flight (their results are dropped by the epoch). */
  clear(): void {
    this.#inflight.clear()
  }

  /** A fresh token for `key`, joining a refresh of the same key already in flight. */
  refresh(key: string, audience: string, scope: string | undefined): Promise<string> {
    const { holder, backoff, cache } = this.#d
    const existing = this.#inflight.get(key)
    if (existing) return existing
    const blocking = backoff.blocking()
    if (blocking) return Promise.reject(blocking)
    if (this.#d.env.options.lifecycle?.isOnline?.() === false) {
      // The device says it is offline (APP-04): no request until it says `online`.
      const e = new TesseraClientError('network', DEVICE_OFFLINE)
      cache.remember(key, { audience, scope })
      backoff.park(key)
      holder.offline(e)
      return Promise.reject(e)
    }
    cache.remember(key, { audience, scope })
    const epoch = holder.epoch
    const run = this.#queue.then(
      () => this.#underLock(key, audience, scope, epoch),
      () => this.#underLock(key, audience, scope, epoch),
    )
    this.#queue = run.catch(() => {})
    const p = run.then(
      (t) => {
        if (this.#inflight.get(key) === p) this.#inflight.delete(key)
        return t
      },
      (err: unknown) => {
        if (this.#inflight.get(key) === p) this.#inflight.delete(key)
        return this.#onError(err, key, epoch)
      },
    )
    this.#inflight.set(key, p)
    return p
  }

  /** Refreshes `key` in the background (timers, resume); failures are handled as usual. */
  refreshKey(key: string): Promise<string> {
    const info = this.#d.cache.infoFor(key, this.#d.holder.session)
    return this.refresh(key, info.audience, info.scope)
  }

  /** The backoff wait is over, or the network came back: retry the failed key now. */
  retryNow(): void {
    const { backoff, holder } = this.#d
    backoff.unblock()
    const key = backoff.retryKey
    if (!holder.session || key === undefined || this.#disposed) return
    void this.refreshKey(key).catch(() => {})
  }

  dispose(): void {
    this.#disposed = true
  }

  /**
   * A warming timer fired for `key`, or the app resumed: refreshes it if it was used within its
   * lifetime before `asOf` (default now; at a resume, when the app went to the background, since
   * time in the background is not disuse), in the foreground.
   */
  warm(key: string, lead: number, lifetime: number, asOf?: number): void {
    const { holder, env, cache, warm } = this.#d
    if (this.#disposed) return
    const go = shouldWarm({
      hasSession: holder.session !== null,
      locked: holder.state.get().locked,
      foreground: env.options.lifecycle?.isForeground?.() !== false,
      lastUsedAt: cache.lastUsed(key),
      now: asOf ?? env.clock.now(),
      lifetime,
    })
    if (!go) return
    const release = warm.running(key, lead)
    void this.refreshKey(key)
      .catch(() => {})
      .finally(release)
  }

  async #underLock(
    key: string,
    audience: string,
    scope: string | undefined,
    epoch: number,
  ): Promise<string> {
    const { env, events, holder, cache, warm } = this.#d
    if (epoch !== holder.epoch) throw new TesseraClientError('aborted', 'the session changed')
    const asked = env.clock.now()
    return env.tabs.withLock(env.lockName, async () => {
      events.emit({ type: 'lock_wait', waitedMs: env.clock.now() - asked })
      if (epoch !== holder.epoch) throw new TesseraClientError('aborted', 'the session changed')
      // Another tab, or an earlier refresh here, may have done the work: read storage again.
      const stored = await holder.read()
      if (epoch !== holder.epoch) throw new TesseraClientError('aborted', 'the session changed')
      if (!stored) {
        // Signed out elsewhere (another tab cleared storage).
        await this.#d.endLocally('other_tab', {
          clearStorage: false,
          broadcast: false,
          capture: true,
        })
        throw new TesseraClientError('login_required', 'the session ended in another tab')
      }
      holder.adopt(stored)
      const t = stored.tokens[key]
      if (cache.isFresh(t, warm.leadFor(key)) && stored.refreshStartedAt === null) {
        holder.markHealthy()
        return t.accessToken
      }
      return this.#network(stored, key, audience, scope, epoch)
    })
  }

  async #network(
    s: StoredSession,
    key: string,
    audience: string,
    scope: string | undefined,
    epoch: number,
  ): Promise<string> {
    const { env, events, holder, server, cache } = this.#d
    if (!s.refreshToken && !env.cookie)
      throw new TesseraClientError('login_required', 'the session has no refresh token')
    if (s.refreshExpiresAt !== null && env.time.now() >= s.refreshExpiresAt) {
      throw new TesseraClientError('session_expired', 'the session has ended')
    }
    const afterInterruption = s.refreshStartedAt !== null
    /** The server may have rotated the token presented (SDK-02): an interrupted refresh, or a
     * lost response in this call. */
    let mayHaveRotated = afterInterruption
    // Written before the request leaves, with the token being presented: if this context dies
    // before the answer is stored, the next start knows to retry at once (SDK-02).
    const marked: StoredSession = {
      ...s,
      refreshStartedAt: s.refreshStartedAt ?? env.clock.now(),
      refreshKey: key,
    }
    await holder.store(marked, epoch)
    holder.setStatus('refreshing', holder.fields(marked))
    const started = env.clock.now()
    const end = (ok: boolean, errorCode?: TesseraClientError['code']) =>
      events.emit({
        type: 'refresh_end',
        audience,
        ok,
        durationMs: env.clock.now() - started,
        errorCode,
      })
    events.emit({ type: 'refresh_start', audience, afterInterruption })
    const meta = await server.metadata()
    // In cookie mode the browser sends the refresh token, in the server's HttpOnly cookie.
    const form = new URLSearchParams({ grant_type: 'refresh_token' })
    if (!env.cookie && s.refreshToken) form.set('refresh_token', s.refreshToken)
    form.set('client_id', env.clientId)
    if (audience !== env.issuer) form.set('resource', audience)
    if (scope !== undefined) form.set('scope', scope)
    let r: TokenResult | undefined
    for (let attempt = 0; r === undefined; attempt++) {
      try {
        r = await tokenRequest(env.tokenHttp, meta.token_endpoint, form, { cookie: env.cookie })
      } catch (err) {
        const e = asClientError(err)
        const retry =
          epoch === holder.epoch &&
          retryLostResponse({
            code: e.code,
            attempt,
            refreshStartedAt: marked.refreshStartedAt,
            now: env.clock.now(),
          })
        if (!retry) {
          end(false, e.code)
          throw e
        }
        // The request may have reached the server, which then rotated the token (SDK-08,
        // APP-02): present the same token again at once, while the grace window is open.
        mayHaveRotated = true
        events.emit({ type: 'retry_scheduled', inMs: 0, errorCode: e.code })
      }
    }
    if (epoch !== holder.epoch)
      throw new TesseraClientError('aborted', 'the session ended during the refresh')
    if (!r.ok) {
      let e: TesseraClientError
      if (r.error === 'invalid_grant') {
        const code = invalidGrantCode({
          refreshExpiresAt: s.refreshExpiresAt,
          nowServer: env.time.now(),
          afterInterruption: mayHaveRotated,
        })
        e = new TesseraClientError(code, 'the server no longer accepts the session', {
          oauthError: r.error,
          status: r.status,
        })
      } else {
        // Refused before anything changed at the server: the token presented is still current.
        await holder.store({ ...marked, refreshStartedAt: null, refreshKey: null }, epoch)
        e = new TesseraClientError('request_rejected', refusalMessage(env, r.error, audience), {
          oauthError: r.error,
          status: r.status,
        })
      }
      end(false, e.code)
      throw e
    }
    if (env.cookie && r.tokens.refresh_token !== undefined) throw cookieMismatch()
    server.observeClock(r)
    const token = cache.tokenFrom(r, audience)
    let claims: IdTokenClaims | null = s.claims
    let idToken = s.idToken
    let sameUserProven = false
    if (r.tokens.id_token !== undefined) {
      try {
        claims = await server.validateIdToken(r.tokens.id_token, meta, {
          nonce: undefined,
          sub: s.claims?.sub,
        })
        idToken = r.tokens.id_token
        sameUserProven = s.claims !== null
      } catch (err) {
        // The new refresh token must be kept whatever the ID token says; keep the old claims.
        events.emit({ type: 'error', operation: 'refresh_id_token', code: asClientError(err).code })
      }
    }
    // The browser's cookie names another session: another sign-in of this browser replaced it
    // (a tab that does not share this storage). Keep going only as the same user.
    const sid = peekSid(r.tokens.access_token)
    const switched = env.cookie && s.sessionId !== null && sid !== undefined && sid !== s.sessionId
    if (switched && !sameUserProven) {
      end(false, 'login_required')
      // Only this context's session ended: the other tabs may hold the new one, so no broadcast.
      // This runs under the refresh lock, so storage is cleared here rather than by endLocally.
      await this.#d.endLocally('other_tab', {
        clearStorage: false,
        broadcast: false,
        capture: true,
      })
      await env.storage.remove(env.sessionKey).catch(() => {
        events.emit({ type: 'error', operation: 'clear_storage', code: 'storage_unavailable' })
      })
      throw new TesseraClientError(
        'login_required',
        'another sign-in in this browser replaced the session',
      )
    }
    const said = cache.refreshExpiry(r, null)
    const times = learnSessionTimes(
      {
        at: s.lastActiveAt ?? null,
        deadline: s.refreshExpiresAt,
        idleMs: s.idleMs ?? null,
        absoluteEndAt: s.absoluteEndAt ?? null,
      },
      env.time.at(r.sentAt),
      said,
    )
    const next: StoredSession = {
      v: 1,
      refreshToken: env.cookie ? null : (r.tokens.refresh_token ?? s.refreshToken),
      refreshExpiresAt: said ?? s.refreshExpiresAt,
      lastActiveAt: times.at,
      idleMs: times.idleMs,
      absoluteEndAt: times.absoluteEndAt,
      idToken,
      claims,
      sessionId: typeof claims?.sid === 'string' ? claims.sid : s.sessionId,
      tokens: mergeTokens(s.tokens, key, token, env.time.now(), !switched),
      refreshStartedAt: null,
      refreshKey: null,
      clockOffsetMs: env.time.offsetMs,
    }
    if (epoch !== holder.epoch)
      throw new TesseraClientError('aborted', 'the session ended during the refresh')
    await holder.store(next, epoch)
    env.tabs.post({ type: 'tokens-updated' })
    this.#d.backoff.reset()
    holder.markHealthy()
    this.#d.warm.schedule(key, token)
    end(true)
    return token.accessToken
  }

  async #onError(err: unknown, key: string, epoch: number): Promise<never> {
    const { events, holder, backoff } = this.#d
    const e = asClientError(err)
    if (e.code === 'aborted' || epoch !== holder.epoch) throw e
    events.emit({ type: 'error', operation: 'refresh', code: e.code })
    if (e.terminal) {
      // Only terminal errors clear the session; no automatic sign-in follows, so no loop.
      if (holder.session)
        await this.#d.endLocally(signedOutReason(e.code), {
          clearStorage: true,
          broadcast: true,
          capture: true,
        })
      throw e
    }
    if (e.transient) {
      const delay = backoff.record(e, key, holder.session?.refreshStartedAt, () => this.retryNow())
      holder.offline(e)
      events.emit({ type: 'retry_scheduled', inMs: delay, errorCode: e.code })
    } else if (holder.session) holder.markHealthy()
    throw e
  }
}

/**
 * The message of a refresh the server refused with an OAuth error other than `invalid_grant`.
 * `invalid_target` names the audience, and whether it is missing from the client's `apis` (so
 * sign-in never asked for it) or listed there and refused by the server.
 */
export function refusalMessage(env: Environment, error: string, audience: string): string {
  const code = error.slice(0, 64)
  if (code !== 'invalid_target') return `the server refused the refresh: ${code}`
  const aud = JSON.stringify(audience.slice(0, 200))
  if (audience !== env.issuer && !env.apis.some((a) => a.audience === audience)) {
    return (
      `the server refused a token for audience ${aud} (invalid_target): ` +
      `it is missing from this client's apis; add { baseUrl, audience: ${aud} } to apis`
    )
  }
  return (
    `the server refused a token for audience ${aud} (invalid_target): it is in this ` +
    `client's apis, but the server does not allow client ${JSON.stringify(env.clientId)} ` +
    `tokens for it; allow the API for the client at the server`
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
