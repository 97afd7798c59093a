import type { ThrottleRule } from '../config/config.js'
import type { Clock } from '../lib/clock.js'
import { TemporarilyUnavailable } from '../oauth/errors.js'
import type { Store } from '../store/store.js'

/**
 * Fixed-window failure counters kept in the store, so several server instances share them. Only
 * failures are counted; a request is refused once its key has reached the limit in the window.
 */
export class Throttle {
  readonly #store: Store
  readonly #clock: Clock

  constructor(store: Store, clock: Clock) {
    this.#store = store
    this.#clock = clock
  }

  /** Throws a 429 TemporarilyUnavailable when any key is over its limit. */
  async check(entries: readonly { key: string; rule: ThrottleRule }[]): Promise<void> {
    const now = this.#clock.now()
    for (const { key, rule } of entries) {
      const count = await this.#store.throttleCount(key, now, rule.windowSeconds)
      if (count >= rule.limit) {
        throw new TemporarilyUnavailable(
          'too many failed attempts, retry later',
          retryAfter(now, rule.windowSeconds),
          429,
          `throttled ${key.split(':')[0] ?? ''}`,
        )
      }
    }
  }

  /** Counts one failure against every key. */
  async fail(entries: readonly { key: string; rule: ThrottleRule }[]): Promise<void> {
    const now = this.#clock.now()
    for (const { key, rule } of entries) await this.#store.throttleHit(key, now, rule.windowSeconds)
  }

  async reset(key: string): Promise<void> {
    await this.#store.throttleReset(key)
  }
}

function retryAfter(now: number, windowSeconds: number): number {
  const w = windowSeconds * 1000
  return Math.ceil((w - (now % w)) / 1000)
}
