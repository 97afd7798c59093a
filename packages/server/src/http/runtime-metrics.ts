import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import type { PoolStats } from '../store/store.js'

/** Resolution of the event-loop delay sampler, in milliseconds (Node's default is 10). */
const LOOP_RESOLUTION_MS = 10

function gauge(name: string, help: string, samples: [string, number][]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`]
  for (const [labels, v] of samples) lines.push(`${name}${labels} ${v}`)
  return lines.join('\n')
}

/**
 * The process and the database pool, read at scrape time: event-loop delay (perf_hooks'
 * `monitorEventLoopDelay`, since the previous scrape), V8 heap, resident memory, and the store's
 * connections (`Store.poolStats`).
 */
export class RuntimeMetrics {
  readonly #loop: IntervalHistogram
  readonly #pool: (() => PoolStats) | undefined

  constructor(pool?: () => PoolStats) {
    this.#loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
    this.#loop.enable()
    this.#pool = pool
  }

  /** Stops sampling the event loop (the server is closing). */
  stop(): void {
    this.#loop.disable()
  }

  render(): string {
    const h = this.#loop
    // Nanoseconds; an empty histogram (no sample yet) reads as 0, not as its huge initial min.
    const s = (ns: number): number => (h.count > 0 ? ns / 1e9 : 0)
    const loop = [
      gauge(
        'tessera_event_loop_lag_seconds',
        'Event-loop delay since the previous scrape, by quantile (perf_hooks monitorEventLoopDelay)',
        [
          ['{quantile="0.5"}', s(h.percentile(50))],
          ['{quantile="0.9"}', s(h.percentile(90))],
          ['{quantile="0.99"}', s(h.percentile(99))],
        ],
      ),
      gauge(
        'tessera_event_loop_lag_max_seconds',
        'Largest event-loop delay since the previous scrape',
        [['', s(h.max)]],
      ),
      gauge(
        'tessera_event_loop_lag_mean_seconds',
        'Mean event-loop delay since the previous scrape',
        [['', s(h.mean)]],
      ),
    ]
    h.reset()
    const mem = process.memoryUsage()
    const out = [
      ...loop,
      gauge('tessera_heap_used_bytes', 'V8 heap in use', [['', mem.heapUsed]]),
      gauge('tessera_heap_total_bytes', 'V8 heap allocated', [['', mem.heapTotal]]),
      gauge('tessera_resident_memory_bytes', 'Resident set size of the process', [['', mem.rss]]),
    ]
    const p = this.#pool?.()
    if (p) {
      out.push(
        gauge('tessera_db_connections', 'Database connections by state', [
          ['{state="in_use"}', p.total - p.idle],
          ['{state="idle"}', p.idle],
        ]),
        gauge('tessera_db_waiting', 'Queries and transactions waiting for a database connection', [
          ['', p.waiting],
        ]),
      )
    }
    return out.join('\n')
  }
}
