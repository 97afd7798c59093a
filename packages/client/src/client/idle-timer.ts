import type { Environment } from './environment.js'

/** The `idleTimeout` option: after that long without `activity`, `expire` runs. */
export class IdleTimer {
  readonly #env: Environment
  readonly #expire: (action: 'sign-out' | 'lock') => void
  #timer: unknown
  #disposed = false
  /** Device time (ms) at which the idle timeout fires, or null when none runs. */
  #endsAt: number | null = null

  constructor(env: Environment, expire: (action: 'sign-out' | 'lock') => void) {
    this.#env = env
    this.#expire = expire
  }

  get endsAt(): number | null {
    return this.#endsAt
  }

  /** Restarts the timeout (activity, a new session); stops it when there is no session. */
  reset(hasSession: boolean): void {
    const idle = this.#env.options.idleTimeout
    if (!idle || this.#disposed) return
    this.stop()
    if (!hasSession) return
    const ms = idle.seconds * 1000
    this.#endsAt = this.#env.clock.now() + ms
    this.#timer = this.#env.clock.setTimeout(() => {
      this.#timer = undefined
      this.#endsAt = null
      this.#expire(idle.action)
    }, ms)
  }

  stop(): void {
    if (this.#timer !== undefined) this.#env.clock.clearTimeout(this.#timer)
    this.#timer = undefined
    this.#endsAt = null
  }

  dispose(): void {
    this.#disposed = true
    this.stop()
  }
}
