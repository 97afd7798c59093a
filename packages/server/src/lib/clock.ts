/**
 * The one time source of the server. Every expiry decision reads `now()` from the clock the server
 * was built with, so tests inject a fake and production never reads `Date.now()` ad hoc.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number
}

/** Wall-clock time that never steps backwards within the process (REL-10): a clock step back
 * holds time still instead of extending every timeout. */
export class MonotonicClock implements Clock {
  #last = 0
  readonly #source: () => number

  constructor(source: () => number = Date.now) {
    this.#source = source
  }

  now(): number {
    const t = this.#source()
    if (t > this.#last) this.#last = t
    return this.#last
  }
}

/** A clock for tests: starts at `start` and moves only when told. */
export class FakeClock implements Clock {
  #t: number

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#t = start
  }

  now(): number {
    return this.#t
  }

  /** Moves time forward (or backward, to simulate a clock step) by `ms` milliseconds. */
  advance(ms: number): void {
    this.#t += ms
  }

  set(ms: number): void {
    this.#t = ms
  }
}

export const seconds = (ms: number): number => Math.floor(ms / 1000)
