import type { Clock } from '../../src/lib/clock.js'

/** 2026-01-01T00:00:00Z, in milliseconds: the frozen "now" of the tests. */
export const NOW = Date.UTC(2026, 0, 1)
export const NOW_S = NOW / 1000

/** A clock that moves only when told. */
export class FakeClock implements Clock {
  #t: number
  constructor(start = NOW) {
    this.#t = start
  }
  now(): number {
    return this.#t
  }
  advance(ms: number): void {
    this.#t += ms
  }
  set(ms: number): void {
    this.#t = ms
  }
}
