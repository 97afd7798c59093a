import { ExpiringLru } from '../cache/expiring-lru.js'
import type { Clock } from '../lib/clock.js'

/**
 * Where a verifier remembers the DPoP proofs it accepted, so each is accepted once (RFC 9449
 * 11.1). `use` must be atomic: of two concurrent calls with one key, one gets true.
 *
 * @example
 * ```ts
 * // Shared by every instance of the API, with any Redis client:
 * const replayStore: DpopReplayStore = {
 *   use: async (key, expiresAt) =>
 *     (await redis.set(`dpop:${key}`, '1', { NX: true, PXAT: expiresAt })) === 'OK',
 * }
 * ```
 */
export interface DpopReplayStore {
  /**
   * Records `key` (a hash of the proof's key and `jti`) until `expiresAt` (milliseconds since the
   * epoch). True when it was not recorded yet, or its record has expired: the proof is fresh.
   * False for a replay.
   */
  use(key: string, expiresAt: number): boolean | Promise<boolean>
}

/**
 * The default replay store: in memory, for one process, bounded. A full cache drops its least
 * recently seen entries first, so a flood of fresh proofs (which needs valid bound access tokens
 * to get this far) could push out a proof that is still inside its window: size it above the
 * proofs the API receives per window (requests per second times twice `proofWindow`).
 */
export class MemoryReplayStore implements DpopReplayStore {
  readonly #seen: ExpiringLru<true>
  readonly #clock: Clock

  constructor(maxEntries: number, clock: Clock) {
    this.#seen = new ExpiringLru(maxEntries)
    this.#clock = clock
  }

  get size(): number {
    return this.#seen.size
  }

  use(key: string, expiresAt: number): boolean {
    const now = this.#clock.now()
    if (this.#seen.get(key, now)) return false
    this.#seen.set(key, true, expiresAt, now)
    return true
  }
}
