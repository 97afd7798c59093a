import type { Clock } from './clock.js'

/**
 * The server's clock as seen from this device: the device clock plus an offset measured from
 * server responses (the `iat` of a freshly issued token, or the `Date` header). Token lifetimes
 * are computed from `expires_in` on this timeline, and ID token `iat`/`exp` are checked against
 * it, so a device whose clock is minutes off neither refreshes in a loop nor rejects valid tokens.
 */
export class ServerTime {
  readonly #clock: Clock
  #offsetMs = 0
  #measured = false

  constructor(clock: Clock) {
    this.#clock = clock
  }

  /** Server time now, in milliseconds. */
  now(): number {
    return this.#clock.now() + this.#offsetMs
  }

  /** Server time for a device time. */
  at(deviceMs: number): number {
    return deviceMs + this.#offsetMs
  }

  get offsetMs(): number {
    return this.#offsetMs
  }

  get measured(): boolean {
    return this.#measured
  }

  /** Restores an offset measured earlier (from storage). */
  restore(offsetMs: number): void {
    if (Number.isFinite(offsetMs)) {
      this.#offsetMs = offsetMs
      this.#measured = true
    }
  }

  /**
   * Records that the server's clock read `serverSeconds` (a whole second, rounded down) somewhere
   * between device times `sentAt` and `receivedAt`. Offsets within a second of the current one are
   * ignored, so whole-second readings do not make the offset jitter.
   */
  observe(serverSeconds: number, sentAt: number, receivedAt: number): void {
    if (!Number.isFinite(serverSeconds) || serverSeconds <= 0) return
    const mid = sentAt + (receivedAt - sentAt) / 2
    const offset = Math.round(serverSeconds * 1000 + 500 - mid)
    if (!this.#measured || Math.abs(offset - this.#offsetMs) > 1000) this.#offsetMs = offset
    this.#measured = true
  }
}
