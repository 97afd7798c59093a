import type { ThrottleRule } from '../config/config.js'
import type { Clock } from '../lib/clock.js'
import { TemporarilyUnavailable } from '../oauth/errors.js'
import type { Store } from '../store/store.js'
import { BoundedMap } from '../lib/bounded-map.js'

/** How long a count read from the store is trusted without reading again, in wall-clock ms. */
const READ_TTL_MS = 1000
const MAX_CACHED = 10_000

/** A failure counter and the rule it is held to. */
export interface ThrottleEntry {
  key: string
  rule: ThrottleRule
}

interface CachedCount {
  windowStart: number
  count: number
  readAt: number
}

/**
 * Fixed-window failure counters kept in the store, so several server instances share them. Only
 * failures are counted; a request is refused once its key has reached the limit in the window.
 *
 * Every token request checks its counters, so reads are cached for up to a second: this
 * instance's own failures update the cache at once (exact on one instance), other instances'
 * failures are seen within a second. A limit can therefore be overshot by what other instances
 * fail in that second, which is acceptable for a rate limit.
 */
export class Throttle {
  readonly #store: Store
  readonly #clock: Clock
  readonly #cache = new BoundedMap<string, CachedCount>(MAX_CACHED)

  constructor(store: Store, clock: Clock) {
    this.#store = store
    this.#clock = clock
  }

  /** Throws a 429 TemporarilyUnavailable when any key is over its limit. */
  async check(entries: readonly ThrottleEntry[]): Promise<void> {
    const over = await this.exceeded(entries)
    if (over) throw this.refusal(over)
  }

  /** The first entry whose key has reached its limit in the current window, if any. */
  async exceeded(entries: readonly ThrottleEntry[]): Promise<ThrottleEntry | undefined> {
    const now = this.#clock.now()
    for (const e of entries) {
      if ((await this.#count(e.key, now, e.rule.windowSeconds)) >= e.rule.limit) return e
    }
    return undefined
  }

  /** The 429 answer for an entry over its limit, with `Retry-After` at the end of its window. */
  refusal(entry: ThrottleEntry): TemporarilyUnavailable {
    return new TemporarilyUnavailable(
      'too many failed attempts, retry later',
      retryAfter(this.#clock.now(), entry.rule.windowSeconds),
      429,
      `throttled ${entry.key.split(':')[0] ?? ''}`,
    )
  }

  /** Counts one failure against every key. */
  async fail(entries: readonly ThrottleEntry[]): Promise<void> {
    const now = this.#clock.now()
    for (const { key, rule } of entries) {
      const count = await this.#store.throttleHit(key, now, rule.windowSeconds)
      this.#remember(key, windowStart(now, rule.windowSeconds), count)
    }
  }

  async reset(key: string): Promise<void> {
    this.#cache.delete(key)
    await this.#store.throttleReset(key)
  }

  async #count(key: string, now: number, windowSeconds: number): Promise<number> {
    const start = windowStart(now, windowSeconds)
    const hit = this.#cache.get(key)
    if (hit && hit.windowStart === start && performance.now() - hit.readAt < READ_TTL_MS) {
      return hit.count
    }
    const count = await this.#store.throttleCount(key, now, windowSeconds)
    this.#remember(key, start, count)
    return count
  }

  #remember(key: string, start: number, count: number): void {
    this.#cache.set(key, { windowStart: start, count, readAt: performance.now() })
  }
}

function windowStart(now: number, windowSeconds: number): number {
  return now - (now % (windowSeconds * 1000))
}

function retryAfter(now: number, windowSeconds: number): number {
  const w = windowSeconds * 1000
  return Math.ceil((w - (now % w)) / 1000)
}
