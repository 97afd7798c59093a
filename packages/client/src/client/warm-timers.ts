import type { StoredSession, StoredToken } from '../session/stored-session.js'
import type { Environment } from './environment.js'
import { warmDelay, warmLead } from './refresh-decisions.js'

/**
 * Timers that refresh a token shortly before it goes stale, so `getToken` rarely waits. They
 * only warm the cache: `getToken` checks expiry itself. `fire(key, lead, lifetime)` decides
 * whether to refresh.
 */
export class WarmTimers {
  readonly #env: Environment
  readonly #fire: (key: string, lead: number, lifetime: number) => void
  readonly #timers = new Map<string, unknown>()
  /** Milliseconds ahead of staleness at which a warming refresh in flight is due, per key. */
  readonly #leads = new Map<string, number>()
  #disposed = false

  constructor(env: Environment, fire: (key: string, lead: number, lifetime: number) => void) {
    this.#env = env
    this.#fire = fire
  }

  get enabled(): boolean {
    return this.#env.options.autoRefresh !== false && !this.#disposed
  }

  schedule(key: string, t: StoredToken): void {
    if (!this.enabled) return
    const env = this.#env
    const old = this.#timers.get(key)
    if (old !== undefined) env.clock.clearTimeout(old)
    const { lead, lifetime } = warmLead(t)
    const delay = warmDelay(t, env.time.now(), env.skewMs, env.random())
    const timer = env.clock.setTimeout(() => {
      this.#timers.delete(key)
      this.#fire(key, lead, lifetime)
    }, delay)
    this.#timers.set(key, timer)
  }

  scheduleAll(s: StoredSession | null): void {
    if (!s) return
    for (const [k, t] of Object.entries(s.tokens)) this.schedule(k, t)
  }

  /** Marks a warming refresh of `key` as running, with its lead; returns the release. */
  running(key: string, lead: number): () => void {
    this.#leads.set(key, lead)
    return () => this.#leads.delete(key)
  }

  /** The lead of a warming refresh of `key` in flight, else 0. */
  leadFor(key: string): number {
    return this.#leads.get(key) ?? 0
  }

  stop(): void {
    for (const t of this.#timers.values()) this.#env.clock.clearTimeout(t)
    this.#timers.clear()
  }

  dispose(): void {
    this.#disposed = true
    this.stop()
  }
}
