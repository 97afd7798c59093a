/** Where the verifier reads the time. Inject a fake in tests; the default is `Date.now`. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }
