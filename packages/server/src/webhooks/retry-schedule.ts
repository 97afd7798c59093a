import type { Random } from '../lib/random.js'

/** The first retry comes about this long after the first attempt. */
export const FIRST_RETRY_MS = 5_000
/** Retries are never further apart than this, so a receiver that comes back is served soon. */
export const MAX_RETRY_INTERVAL_MS = 2 * 3_600_000

/**
 * Milliseconds to wait after failed attempt number `attempt` (1 for the first): exponential backoff
 * (5 s, 10 s, 20 s, ... up to 2 hours) with "equal jitter": a random point in the upper half of
 * the interval. Successive ranges do not overlap, so the waits grow with every attempt until the
 * cap, while many deliveries that failed together do not come back in lockstep.
 *
 * @example
 * retryDelayMs(1, random) // 2500 to 5000
 * retryDelayMs(2, random) // 5000 to 10000
 */
export function retryDelayMs(attempt: number, random: Random): number {
  const exp = FIRST_RETRY_MS * 2 ** Math.min(Math.max(attempt - 1, 0), 30)
  const interval = Math.min(exp, MAX_RETRY_INTERVAL_MS)
  const half = interval / 2
  const fraction = random.bytes(4).readUInt32BE(0) / 0x1_0000_0000
  return Math.floor(half + fraction * half)
}

/**
 * `Retry-After` of a 429 or 503 response in milliseconds (delta-seconds only; an HTTP date is
 * ignored, it would need the receiver's clock), capped at the longest retry interval.
 */
export function retryAfterMs(header: string | null): number | undefined {
  if (header === null || !/^\d{1,9}$/.test(header.trim())) return undefined
  return Math.min(Number(header.trim()) * 1000, MAX_RETRY_INTERVAL_MS)
}
