/** Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
export interface BackoffOptions {
  /** Milliseconds of the first delay's ceiling. Default 1000. */
  baseMs?: number
  /** Largest delay in milliseconds. Default 60000. */
  maxMs?: number
}

/** The delay before retry number `attempt` (0 = first retry): random in [base/2, ceiling]. */
export function backoffDelay(
  attempt: number,
  random: () => number,
  o: BackoffOptions = {},
): number {
  const base = o.baseMs ?? 1000
  const max = o.maxMs ?? 60_000
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30))
  const floor = Math.min(ceiling, base) / 2
  return Math.round(floor + random() * (ceiling - floor))
}
