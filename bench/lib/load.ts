import { performance } from 'node:perf_hooks'
import type { FormPoster, HttpResponse } from './http.js'
import { summarize, type LatencySummary } from './stats.js'

export interface RefreshChainsOptions {
  client: Pick<FormPoster, 'postForm'>
  /** Path of the token endpoint. */
  path: string
  /** Form fields of one refresh request that presents `refreshToken`. */
  form: (refreshToken: string) => Record<string, string>
  /** The first refresh token of each chain; one chain per token, all running concurrently. */
  tokens: readonly string[]
  /** Milliseconds of load before measuring starts. Requests started in it are not measured. */
  warmupMs: number
  /** Milliseconds of measured load after the warm-up. */
  durationMs: number
  /** Stops each chain after this many requests, whatever the time (for fixed-size phases). */
  maxRequestsPerChain?: number
}

export interface RefreshChainsResult {
  /** Requests started in the measured window that completed (successes and errors). */
  requests: number
  /** Successful, rotated refreshes among `requests`. */
  ok: number
  /** Failed requests over the whole run, warm-up included: any error fails a benchmark. */
  errors: number
  /** Failures by kind, e.g. `HTTP 400 invalid_grant`, `refresh token not rotated`. */
  errorKinds: Record<string, number>
  /** Requests made during the warm-up. */
  warmupRequests: number
  /** From the start of the measured window to the last measured completion. */
  elapsedMs: number
  requestsPerSecond: number
  /** Latency of the measured requests, as the client saw it. */
  latency: LatencySummary
  /** Every measured latency in milliseconds, in completion order (to merge several runs). */
  samples: number[]
  /** Every request made, warm-up and measured. */
  totalRequests: number
  /** Each chain's current refresh token at the end; undefined for a chain an error stopped. */
  tokens: (string | undefined)[]
  /** The first successful response body, to inspect what the target issues. */
  sample: Record<string, unknown> | undefined
}

/** Checks one refresh response; returns the error kind, or the new refresh token. */
export function checkRefreshResponse(
  res: HttpResponse,
  presented: string,
): { error: string } | { token: string; body: Record<string, unknown> } {
  let body: unknown
  try {
    body = JSON.parse(res.body)
  } catch {
    return { error: `HTTP ${res.status} (not JSON)` }
  }
  const b = (body ?? {}) as Record<string, unknown>
  if (res.status !== 200) {
    return { error: `HTTP ${res.status} ${typeof b.error === 'string' ? b.error : ''}`.trim() }
  }
  if (typeof b.access_token !== 'string' || b.access_token === '')
    return { error: 'no access_token' }
  if (typeof b.refresh_token !== 'string' || b.refresh_token === '')
    return { error: 'no refresh_token' }
  if (b.refresh_token === presented) return { error: 'refresh token not rotated' }
  return { token: b.refresh_token, body: b }
}

/**
 * Runs one refresh chain per token, concurrently: each chain presents its current refresh token,
 * takes the new one from the response and repeats, until the measured window ends. A chain stops
 * at its first error (its token's state is unknown then).
 */
export async function runRefreshChains(opts: RefreshChainsOptions): Promise<RefreshChainsResult> {
  const start = performance.now()
  const measureStart = start + opts.warmupMs
  const deadline = measureStart + opts.durationMs
  const max = opts.maxRequestsPerChain ?? Number.POSITIVE_INFINITY
  const latencies: number[] = []
  const errorKinds: Record<string, number> = {}
  let errors = 0
  let ok = 0
  let requests = 0
  let warmupRequests = 0
  let totalRequests = 0
  let lastEnd = measureStart
  let sample: Record<string, unknown> | undefined
  const tokens: (string | undefined)[] = [...opts.tokens]

  const fail = (kind: string) => {
    errors += 1
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1
  }

  async function chain(i: number): Promise<void> {
    let token = tokens[i] as string
    for (let n = 0; n < max; n++) {
      const t0 = performance.now()
      if (t0 >= deadline) return
      const measured = t0 >= measureStart
      let res: HttpResponse
      try {
        res = await opts.client.postForm(opts.path, opts.form(token))
      } catch (err) {
        totalRequests += 1
        fail(`network ${(err as { code?: string }).code ?? (err as Error).message}`)
        tokens[i] = undefined
        return
      }
      const t1 = performance.now()
      totalRequests += 1
      if (measured) {
        requests += 1
        latencies.push(t1 - t0)
        if (t1 > lastEnd) lastEnd = t1
      } else {
        warmupRequests += 1
      }
      const checked = checkRefreshResponse(res, token)
      if ('error' in checked) {
        fail(checked.error)
        tokens[i] = undefined
        return
      }
      if (measured) ok += 1
      sample ??= checked.body
      token = checked.token
      tokens[i] = token
    }
  }

  await Promise.all(opts.tokens.map((_, i) => chain(i)))
  const elapsedMs = Math.max(0, lastEnd - measureStart)
  return {
    requests,
    ok,
    errors,
    errorKinds,
    warmupRequests,
    elapsedMs,
    requestsPerSecond: elapsedMs > 0 ? (requests * 1000) / elapsedMs : 0,
    latency: summarize(latencies),
    samples: latencies,
    totalRequests,
    tokens,
    sample,
  }
}
