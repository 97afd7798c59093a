import type { Clock } from '../../src/index.js'

/**
 * A clock for unit tests: time moves only in `advance`, which runs due timers in order and, after
 * each, waits until the work it started has finished (`settle`) before moving on.
 */
export class ManualClock implements Clock {
  #t: number
  #seq = 0
  readonly #timers = new Map<number, { at: number; fn: () => void }>()

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#t = start
  }

  now(): number {
    return this.#t
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq
    this.#timers.set(id, { at: this.#t + Math.max(0, ms), fn })
    return id
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number)
  }

  /** Timers pending, as delays from now (ms). */
  pending(): number[] {
    return [...this.#timers.values()].map((t) => t.at - this.#t).sort((a, b) => a - b)
  }

  async advance(ms: number): Promise<void> {
    const end = this.#t + ms
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined
      for (const e of this.#timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e
      if (!next) break
      this.#timers.delete(next[0])
      this.#t = Math.max(this.#t, next[1].at)
      next[1].fn()
      await settle()
    }
    this.#t = end
    await settle()
  }

  /** Moves the wall clock without running timers (a clock step, or a device whose clock is off). */
  jump(ms: number): void {
    this.#t += ms
  }
}

/**
 * Work in flight off the microtask queue that the client waits for: the fake provider's answers,
 * which sign on the thread pool. `settle` waits for it, so a test that checks "nothing happened"
 * after `advance` checks it once the work a timer started has finished, not after a guessed
 * number of event-loop turns.
 */
const inFlight = new Set<Promise<unknown>>()

/** Registers `p` as work in flight until it settles. */
export function track<T>(p: Promise<T>): Promise<T> {
  inFlight.add(p)
  const done = () => inFlight.delete(p)
  p.then(done, done)
  return p
}

/** Number of tracked promises still pending (for the helper's own tests). */
export function inFlightCount(): number {
  return inFlight.size
}

const turn = () => new Promise<void>((r) => setImmediate(r))

/**
 * Waits until the system is quiet: no tracked work in flight, and none started during a whole
 * event-loop turn after the last one settled (a turn runs every promise job queued before it).
 */
export async function settle(): Promise<void> {
  for (;;) {
    await turn()
    if (inFlight.size > 0) {
      await Promise.allSettled([...inFlight])
      continue
    }
    await turn()
    if (inFlight.size === 0) return
  }
}

/** The real clock shifted by an adjustable offset, with real timers (integration tests). */
export class ShiftedClock implements Clock {
  offset = 0
  now(): number {
    return Date.now() + this.offset
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const h = setTimeout(fn, ms)
    h.unref()
    return h
  }
  clearTimeout(h: unknown): void {
    clearTimeout(h as NodeJS.Timeout)
  }
}
