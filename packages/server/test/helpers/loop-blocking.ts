import { readFileSync } from 'node:fs'
import { PerformanceObserver } from 'node:perf_hooks'

/**
 * Nanoseconds this process's main thread has spent runnable but waiting for a CPU (Linux
 * schedstat, second field), or 0 where the kernel does not report it.
 */
function runQueueWaitNs(): bigint {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')
    return BigInt(fields[1] ?? '0')
  } catch {
    return 0n
  }
}

interface Tick {
  /** performance.now() */
  at: number
  wait: bigint
}

/**
 * Measures how long the code under test blocked the event loop: a timer ticks every
 * `intervalMs`; each gap between two ticks is a stretch in which the loop could not turn, less
 * - the time the thread spent runnable but waiting for a CPU (a loaded machine), and
 * - the garbage collector's pauses in it (the test process's own heap: vitest, the clients).
 * A synchronous wait on the thread (SQLite's busy handler sleeping) counts in full, as does any
 * synchronous work. So a bound checked against it holds on a busy 2-core CI box, where wall-clock
 * latency would not. A stretch includes the tick interval itself.
 */
export class LoopBlocking {
  #timer: ReturnType<typeof setInterval> | undefined
  #ticks: Tick[] = []
  #gc: { start: number; end: number }[] = []
  #observer: PerformanceObserver | undefined

  start(intervalMs = 5): this {
    this.#observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        this.#gc.push({ start: e.startTime, end: e.startTime + e.duration })
      }
    })
    this.#observer.observe({ entryTypes: ['gc'] })
    this.#tick()
    this.#timer = setInterval(() => this.#tick(), intervalMs)
    return this
  }

  #tick(): void {
    this.#ticks.push({ at: performance.now(), wait: runQueueWaitNs() })
  }

  /** Stops; resolves to the longest stretch (ms), where it ended, and the number of gaps. */
  async stop(): Promise<{ maxMs: number; maxAt: number; samples: number }> {
    clearInterval(this.#timer)
    this.#tick()
    // GC entries are delivered after the fact.
    await new Promise((r) => setTimeout(r, 50))
    this.#observer?.disconnect()
    let maxMs = 0
    let maxAt = 0
    for (let i = 1; i < this.#ticks.length; i++) {
      const a = this.#ticks[i - 1]!
      const b = this.#ticks[i]!
      const waited = Number(b.wait - a.wait) / 1e6
      const gc = this.#gc.reduce(
        (sum, g) => sum + Math.max(0, Math.min(b.at, g.end) - Math.max(a.at, g.start)),
        0,
      )
      const blocked = b.at - a.at - waited - gc
      if (blocked > maxMs) {
        maxMs = blocked
        maxAt = b.at
      }
    }
    return { maxMs, maxAt, samples: this.#ticks.length - 1 }
  }
}
