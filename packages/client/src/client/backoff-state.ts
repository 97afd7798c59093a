import type { TesseraClientError } from '../errors.js'
import type { Environment } from './environment.js'
import { retryOnResume, transientRetryDelay } from './refresh-decisions.js'

/**
 * Transient failures in a row and the wait they impose: while blocked, `getToken` fails fast
 * with the last error instead of sending requests; a timer retries when the wait is over.
 */
export class BackoffState {
  readonly #env: Environment
  #failures = 0
  #blockedUntil = 0
  #last: TesseraClientError | undefined
  #retryKey: string | undefined
  #timer: unknown
  #parked = false

  constructor(env: Environment) {
    this.#env = env
  }

  /** The error to fail fast with while the wait lasts. */
  blocking(): TesseraClientError | undefined {
    return this.#env.clock.now() < this.#blockedUntil ? this.#last : undefined
  }

  /** The key the scheduled retry is for. */
  get retryKey(): string | undefined {
    return this.#retryKey
  }

  /**
   * Records a transient failure of a refresh for `key` and schedules `retry`. Returns the delay.
   */
  record(
    e: TesseraClientError,
    key: string,
    refreshStartedAt: number | null | undefined,
    retry: () => void,
  ): number {
    const env = this.#env
    this.#failures++
    const delay = transientRetryDelay({
      failures: this.#failures,
      random: env.random,
      backoff: env.options.backoff,
      retryAfterSeconds: e.retryAfterSeconds,
      refreshStartedAt,
      now: env.clock.now(),
    })
    this.#blockedUntil = env.clock.now() + delay
    this.#last = e
    this.#retryKey = key
    this.#cancelTimer()
    this.#timer = env.clock.setTimeout(retry, delay)
    return delay
  }

  /** A refresh of `key` was not even tried (the device is offline): the `online` event retries it. */
  park(key: string): void {
    this.#retryKey = key
    this.#parked = true
  }

  /** Whether a refresh waits for the device to come online. */
  get parked(): boolean {
    return this.#parked
  }

  /** Whether a resume (foreground, online) should retry now. */
  retryOnResume(): boolean {
    if (this.#parked) return true
    return retryOnResume({
      blockedUntil: this.#blockedUntil,
      now: this.#env.clock.now(),
      lastCode: this.#last?.code,
    })
  }

  /** The wait is over (the retry starts now): cancels the timer and unblocks. */
  unblock(): void {
    this.#parked = false
    this.#cancelTimer()
    this.#blockedUntil = 0
  }

  /** The server was reached: forgets the failures. */
  reset(): void {
    this.#cancelTimer()
    this.#parked = false
    this.#failures = 0
    this.#blockedUntil = 0
    this.#last = undefined
  }

  #cancelTimer(): void {
    if (this.#timer !== undefined) this.#env.clock.clearTimeout(this.#timer)
    this.#timer = undefined
  }

  stop(): void {
    this.#cancelTimer()
  }
}
