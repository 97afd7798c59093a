import type { FastifyBaseLogger } from 'fastify'
import type { StoreFailure } from '../store/store-failure.js'

interface Burst {
  first: number
  last: number
  requests: number
  /** Failed requests by the error's code (SQLSTATE, errno, or `other`). */
  codes: Record<string, number>
  timer: ReturnType<typeof setTimeout>
}

/**
 * Logs expected database trouble (`storeFailure`: busy or unavailable) once per burst instead of
 * once per request: a database that refuses connections for 5 s under load fails hundreds of
 * requests, each already answered 503 with Retry-After, and one stack trace each would bury
 * everything else in the log (REL-16). The first failure of a burst is logged at `warn` with its
 * code and message, without a stack; a burst ends after `quietMs` without a failure of that kind,
 * and its end is logged at `info` with the number of requests it failed, by error code. Busy and
 * unavailable are tracked apart.
 */
export class StoreOutageLog {
  readonly #log: FastifyBaseLogger
  readonly #quietMs: number
  readonly #bursts = new Map<StoreFailure, Burst>()

  /** @param quietMs Milliseconds without a failure after which a burst counts as over. Default
   *   10000. */
  constructor(log: FastifyBaseLogger, quietMs = 10_000) {
    this.#log = log
    this.#quietMs = quietMs
  }

  /** One request (or readiness probe) met `failure`; `err` is what the store threw. */
  report(failure: StoreFailure, err: unknown, route: string | undefined): void {
    const now = performance.now()
    const e = err as { code?: unknown; message?: unknown }
    const code = typeof e.code === 'string' ? e.code : 'other'
    const burst = this.#bursts.get(failure)
    if (burst) {
      burst.requests++
      burst.codes[code] = (burst.codes[code] ?? 0) + 1
      burst.last = now
      return
    }
    this.#log.warn(
      {
        failure,
        code,
        reason: typeof e.message === 'string' ? e.message : String(err),
        route,
      },
      failure === 'unavailable'
        ? 'database unavailable: answering 503 until it is back'
        : 'database busy: answering 503 with Retry-After',
    )
    const b: Burst = {
      first: now,
      last: now,
      requests: 1,
      codes: { [code]: 1 },
      timer: this.#arm(failure, this.#quietMs),
    }
    this.#bursts.set(failure, b)
  }

  /** Logs the end of the bursts still open (on shutdown). */
  close(): void {
    for (const failure of [...this.#bursts.keys()]) this.#end(failure)
  }

  #arm(failure: StoreFailure, ms: number): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      const b = this.#bursts.get(failure)
      if (!b) return
      const quietFor = performance.now() - b.last
      if (quietFor >= this.#quietMs) this.#end(failure)
      else b.timer = this.#arm(failure, this.#quietMs - quietFor)
    }, ms)
    timer.unref()
    return timer
  }

  #end(failure: StoreFailure): void {
    const b = this.#bursts.get(failure)
    if (!b) return
    clearTimeout(b.timer)
    this.#bursts.delete(failure)
    this.#log.info(
      {
        failure,
        requests: b.requests,
        codes: b.codes,
        seconds: Math.round((b.last - b.first) / 100) / 10,
      },
      failure === 'unavailable' ? 'database available again' : 'database contention over',
    )
  }
}
