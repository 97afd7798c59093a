/**
 * Time and timers, injected so tests control them. `now()` is the device's wall clock in
 * milliseconds; server time is derived from it with a measured offset (see `ServerTime`).
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** The platform's clock and timers. Timers do not keep a Node process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const h = globalThis.setTimeout(fn, ms) as unknown as { unref?: () => void }
    if (typeof h === 'object' && h !== null && typeof h.unref === 'function') h.unref()
    return h
  },
  clearTimeout(h) {
    globalThis.clearTimeout(h as Parameters<typeof globalThis.clearTimeout>[0])
  },
}

/** Waits `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => {
    clock.setTimeout(resolve, ms)
  })
}
