import type { LifecycleEvent } from '../lifecycle/lifecycle.js'
import type { TabMessage } from '../tabs/tab-sync.js'
import type { BackoffState } from './backoff-state.js'
import { DEVICE_OFFLINE } from './environment.js'
import type { DiagnosticsHub } from './diagnostics-hub.js'
import type { Environment } from './environment.js'
import type { IdleTimer } from './idle-timer.js'
import type { Refresher } from './refresher.js'
import { warmLead } from './refresh-decisions.js'
import type { SessionHolder } from './session-holder.js'
import type { EndLocally } from './refresher.js'
import type { TokenCache } from './token-cache.js'
import type { WarmTimers } from './warm-timers.js'

export interface PlatformEventsDeps {
  env: Environment
  events: DiagnosticsHub
  holder: SessionHolder
  cache: TokenCache
  backoff: BackoffState
  warm: WarmTimers
  idle: IdleTimer
  refresher: Refresher
  endLocally: EndLocally
  /** Another tab signed in as another session: stop this one's work, start a new epoch. */
  beginSession: () => number
}

/**
 * What the platform says, turned into client work: lifecycle events (resume retries and warms,
 * activity resets the idle timeout) and messages from other tabs (take their session from
 * storage, or end this one).
 */
export class PlatformEvents {
  readonly #d: PlatformEventsDeps
  readonly #unsubscribe: (() => void)[] = []
  #disposed = false
  /** Device time the app last went to the background, until it resumes. */
  #backgroundAt: number | undefined

  constructor(deps: PlatformEventsDeps) {
    this.#d = deps
    const { env } = deps
    this.#unsubscribe.push(env.tabs.subscribe((m) => this.onTabMessage(m)))
    const lc = env.options.lifecycle
    if (lc) this.#unsubscribe.push(lc.subscribe((e) => this.onLifecycle(e)))
  }

  onLifecycle(e: LifecycleEvent): void {
    const { env, holder, idle } = this.#d
    if (this.#disposed) return
    if (e === 'activity') {
      if (!holder.state.get().locked) idle.reset(holder.session !== null)
      return
    }
    if (e === 'background') {
      this.#backgroundAt ??= env.clock.now()
      return
    }
    if (e !== 'foreground' && e !== 'online') return
    if (!holder.session) return
    const asOf = e === 'foreground' ? this.#backgroundAt : undefined
    if (e === 'foreground') this.#backgroundAt = undefined
    // Resume: retry what failed and warm what is stale, after a jitter.
    const jitter = env.random() * (env.options.resumeJitterMs ?? 3000)
    env.clock.setTimeout(() => this.#resume(asOf), jitter)
  }

  /** Retries what failed and warms what is stale; `asOf`: when the app went to the background. */
  #resume(asOf: number | undefined): void {
    const { holder, backoff, refresher, cache, warm } = this.#d
    if (!holder.session || this.#disposed) return
    const snap = holder.state.get()
    if (
      !backoff.parked &&
      snap.status === 'offline' &&
      snap.error?.message === DEVICE_OFFLINE &&
      this.#d.env.options.lifecycle?.isOnline?.() !== false
    ) {
      // Marked offline only because the device said so, and nothing waits: back to signed-in.
      holder.markHealthy()
    }
    if (backoff.retryOnResume()) refresher.retryNow()
    const s = holder.session
    if (!s) return
    for (const [k, t] of Object.entries(s.tokens)) {
      const { lead, lifetime } = warmLead(t)
      if (!cache.isFresh(t, lead)) refresher.warm(k, lead, lifetime, asOf)
      else warm.schedule(k, t)
    }
  }

  onTabMessage(m: TabMessage): void {
    const { events, holder } = this.#d
    if (this.#disposed) return
    events.emit({ type: 'tab_message', message: m.type })
    if (m.type === 'signed-out') {
      if (holder.session)
        void this.#d.endLocally('other_tab', {
          clearStorage: false,
          broadcast: false,
          capture: true,
        })
      return
    }
    // Another tab refreshed or signed in: take its session from storage.
    const epoch = holder.epoch
    void holder
      .read()
      .then((s) => {
        if (epoch !== holder.epoch || !s) return
        if (m.type === 'signed-in' && holder.session?.sessionId !== s.sessionId) {
          this.#d.beginSession()
        }
        holder.adopt(s)
        // Another tab reached the server: whatever kept this one offline is over.
        this.#d.backoff.reset()
        holder.markHealthy()
        this.#d.warm.scheduleAll(s)
        this.#d.idle.reset(true)
      })
      .catch(() => {})
  }

  dispose(): void {
    this.#disposed = true
    for (const u of this.#unsubscribe) u()
    this.#unsubscribe.length = 0
  }
}
