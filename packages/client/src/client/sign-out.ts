import type { PlatformURL } from '../platform-types.js'
import { revokeRefreshToken } from '../oauth/token-endpoint.js'
import type { ServerMetadata } from '../oauth/metadata.js'
import { INITIAL_SNAPSHOT, type SignedOutReason } from '../session/session-state.js'
import type { DiagnosticsHub } from './diagnostics-hub.js'
import type { Environment } from './environment.js'
import type { SessionHolder } from './session-holder.js'

export interface SignOutOptions {
  /** Default the `postLogoutRedirectUri` option. */
  postLogoutRedirectUri?: string
  /** Open the end-session URL with `navigate`. Default true when `navigate` is configured. */
  navigate?: boolean
}

export interface SignOutDeps {
  env: Environment
  events: DiagnosticsHub
  holder: SessionHolder
  metadata: () => Promise<ServerMetadata>
  /** Stops everything this context does for the session: timers, refreshes, caches. */
  stopSessionWork: () => void
}

/**
 * Ends sessions: locally (memory, timers, other tabs, the app's caches, storage under the refresh
 * lock), and at the server (revocation, end-session URL), best effort.
 */
export class SignOutFlow {
  readonly #d: SignOutDeps
  readonly #clearers = new Set<() => void | Promise<void>>()

  constructor(deps: SignOutDeps) {
    this.#d = deps
  }

  /** Registers a cache clearer, run at every sign-out. */
  onSignOut(clearer: () => void | Promise<void>): () => void {
    this.#clearers.add(clearer)
    return () => this.#clearers.delete(clearer)
  }

  /** Local first, then revocation (RFC 7009) and the end-session URL (RP-Initiated Logout). */
  async signOut(o: SignOutOptions = {}): Promise<{ endSessionUrl: PlatformURL | undefined }> {
    const { env, events, holder } = this.#d
    const s = holder.session
    await this.endLocally('sign_out', { clearStorage: true, broadcast: true, capture: false })
    if (!s) return { endSessionUrl: undefined }
    let meta: ServerMetadata | undefined
    try {
      meta = await this.#d.metadata()
    } catch {
      meta = undefined
    }
    if (meta?.revocation_endpoint && (s.refreshToken || env.cookie)) {
      try {
        // Cookie mode: the server revokes the token of its cookie and clears the cookie.
        const ok = await revokeRefreshToken(
          env.http,
          meta.revocation_endpoint,
          env.clientId,
          env.cookie ? null : s.refreshToken,
          { cookie: env.cookie },
        )
        events.emit({ type: 'sign_out', step: ok ? 'revoked' : 'revoke_failed' })
      } catch {
        events.emit({ type: 'sign_out', step: 'revoke_failed' })
      }
    }
    let endSessionUrl: URL | undefined
    if (meta?.end_session_endpoint) {
      endSessionUrl = new URL(meta.end_session_endpoint)
      const q = endSessionUrl.searchParams
      q.set('client_id', env.clientId)
      if (s.idToken) q.set('id_token_hint', s.idToken)
      const after = o.postLogoutRedirectUri ?? env.options.postLogoutRedirectUri
      if (after !== undefined) q.set('post_logout_redirect_uri', after)
      if (env.options.navigate && o.navigate !== false) env.options.navigate(endSessionUrl.href)
    }
    return { endSessionUrl }
  }

  /**
   * Ends the session in this context: stops its work, bumps the epoch, sets the snapshot, tells
   * the other tabs (`broadcast`), runs the cache clearers and clears storage (`clearStorage`);
   * `capture` keeps the current URL as `returnTo`.
   */
  async endLocally(
    reason: SignedOutReason,
    o: { clearStorage: boolean; broadcast: boolean; capture: boolean },
  ): Promise<void> {
    const { env, events, holder } = this.#d
    // 1. Stop everything this context does for the session, at once.
    this.#d.stopSessionWork()
    const epoch = holder.nextEpoch()
    holder.clear()
    const returnTo = o.capture ? (env.options.currentUrl?.() ?? null) : null
    // Every session field back to its initial value (null, unlocked).
    holder.setStatus('signed-out', { ...INITIAL_SNAPSHOT, status: 'signed-out', reason, returnTo })
    events.emit({ type: 'sign_out', step: 'local' })
    // 2. Tell the other tabs first, so they drop their copy and any refresh they have in flight.
    if (o.broadcast) env.tabs.post({ type: 'signed-out', reason })
    // 3. Caches of the app (query clients, ...).
    for (const c of [...this.#clearers]) {
      try {
        await c()
      } catch {
        events.emit({ type: 'error', operation: 'cache_clearer', code: 'aborted' })
      }
    }
    // 4. The DPoP key bound the session: a new session gets a new key.
    await env.dpop?.reset()
    // 5. Storage, under the refresh lock, so a refresh in another tab cannot write it back after.
    if (o.clearStorage) {
      try {
        await env.tabs.withLock(env.lockName, async () => {
          if (epoch !== holder.epoch) return
          await env.storage.remove(env.sessionKey)
        })
        events.emit({ type: 'sign_out', step: 'storage_cleared' })
      } catch {
        events.emit({ type: 'error', operation: 'clear_storage', code: 'storage_unavailable' })
      }
    }
  }
}
