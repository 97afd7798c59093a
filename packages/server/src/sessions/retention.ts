import type { RetentionConfig } from '../config/config.js'
import type { Store } from '../store/store.js'

export interface RetentionResult {
  sessionsDeleted: number
  browserSessionsDeleted: number
  eventsDeleted: number
}

export interface RetentionOptions {
  /** The retention settings (`config.retention`). */
  retention: RetentionConfig
  /** Seconds without use after which a browser session is over (`browserSession.idleSeconds`). */
  browserIdleSeconds: number
  /** Checked between batches: true stops the pass (the server is closing). */
  stopped?: () => boolean
}

/** Lets the event loop serve what is waiting (requests, their queries) before the next batch. */
const yieldToRequests = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * Deletes what has outlived its retention at `now`: sessions that ended more than
 * `retention.sessionsSeconds` ago, browser sessions over for more than
 * `retention.browserSessionsSeconds` (and holding no live session), security events older than
 * `retention.eventsSeconds`. Each statement deletes at most `batchSize` rows and the pass yields
 * between statements, so a backlog of a million rows never holds the database (SQLite's one write
 * lock) or the event loop for long; the pass goes on until nothing is left or `stopped()`.
 *
 * @example
 * ```ts
 * await runRetention(store, clock.now(), { retention: config.retention, browserIdleSeconds: 604800 })
 * ```
 */
export async function runRetention(
  store: Store,
  now: number,
  o: RetentionOptions,
): Promise<RetentionResult> {
  const { retention } = o
  const limit = retention.batchSize
  const stopped = o.stopped ?? (() => false)
  const drain = async (batch: () => Promise<number>): Promise<number> => {
    let total = 0
    for (;;) {
      const n = await batch()
      total += n
      if (n < limit || stopped()) return total
      await yieldToRequests()
    }
  }
  const ms = (seconds: number) => seconds * 1000
  const sessionsDeleted =
    retention.sessionsSeconds === 0
      ? 0
      : await drain(() => store.deleteEndedSessions(now - ms(retention.sessionsSeconds), limit))
  const browserSessionsDeleted =
    retention.browserSessionsSeconds === 0 || stopped()
      ? 0
      : await drain(() =>
          store.deleteBrowserSessions({
            before: now - ms(retention.browserSessionsSeconds),
            idleMs: ms(o.browserIdleSeconds),
            limit,
          }),
        )
  const eventsDeleted =
    retention.eventsSeconds === 0 || stopped()
      ? 0
      : await drain(() => store.deleteEvents(now - ms(retention.eventsSeconds), limit))
  return { sessionsDeleted, browserSessionsDeleted, eventsDeleted }
}
