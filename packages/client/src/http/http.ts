import type { FetchInit, FetchInput, FetchResponse, HeadersLike } from '../platform-types.js'
import { TesseraClientError } from '../errors.js'
import type { Clock } from '../lib/clock.js'

/** The `fetch` the client calls: the platform's, or an injected one (tests, React Native). */
export type FetchLike = (input: FetchInput, init?: FetchInit) => Promise<FetchResponse>

export interface HttpContext {
  fetch: FetchLike
  clock: Clock
  /** Milliseconds before a request to the authorization server is abandoned. */
  timeoutMs: number
}

export interface JsonResponse {
  status: number
  headers: HeadersLike
  body: Record<string, unknown> | undefined
  /** Device time just before the request was sent. */
  sentAt: number
  /** Device time when the response headers arrived. */
  receivedAt: number
}

/** Seconds of a `Retry-After` header (delta-seconds or an HTTP date), if any. */
export function retryAfterSeconds(headers: HeadersLike, now: number): number | undefined {
  const v = headers.get('retry-after')
  if (v === null) return undefined
  if (/^\d+$/.test(v.trim())) return Number(v.trim())
  const t = Date.parse(v)
  if (Number.isNaN(t)) return undefined
  return Math.max(0, Math.ceil((t - now) / 1000))
}

/**
 * Sends a request to the authorization server and reads a JSON body. Network failures and
 * timeouts become `network` errors; the caller decides what a status means.
 */
export async function requestJson(
  ctx: HttpContext,
  url: string,
  init: FetchInit,
): Promise<JsonResponse> {
  const controller = typeof AbortController === 'function' ? new AbortController() : undefined
  const timer = controller
    ? ctx.clock.setTimeout(() => controller.abort(), ctx.timeoutMs)
    : undefined
  const sentAt = ctx.clock.now()
  let res: FetchResponse
  try {
    res = await ctx.fetch(url, { ...init, signal: controller?.signal })
  } catch (err) {
    if (timer !== undefined) ctx.clock.clearTimeout(timer)
    throw new TesseraClientError('network', `request to ${originOf(url)} failed`, { cause: err })
  }
  const receivedAt = ctx.clock.now()
  let text: string
  try {
    text = await res.text()
  } catch (err) {
    throw new TesseraClientError('network', `response from ${originOf(url)} was cut off`, {
      cause: err,
      status: res.status,
    })
  } finally {
    if (timer !== undefined) ctx.clock.clearTimeout(timer)
  }
  let body: Record<string, unknown> | undefined
  if (text !== '') {
    try {
      const parsed: unknown = JSON.parse(text)
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        body = parsed as Record<string, unknown>
      }
    } catch {
      body = undefined
    }
  }
  return { status: res.status, headers: res.headers, body, sentAt, receivedAt }
}

/**
 * Turns a non-2xx answer into the error it means: 429 `rate_limited`, 5xx or
 * `temporarily_unavailable` `server`; otherwise undefined, and the caller maps the OAuth error.
 */
export function transientError(
  r: JsonResponse,
  what: string,
  now: number,
): TesseraClientError | undefined {
  const oauthError = typeof r.body?.error === 'string' ? r.body.error : undefined
  const retryAfter = retryAfterSeconds(r.headers, now)
  // Absent values are undefined on the error either way.
  const o = { status: r.status, oauthError, retryAfterSeconds: retryAfter }
  if (r.status === 429) return new TesseraClientError('rate_limited', `${what}: rate limited`, o)
  if (
    r.status >= 500 ||
    oauthError === 'temporarily_unavailable' ||
    oauthError === 'server_error'
  ) {
    return new TesseraClientError('server', `${what}: the server answered ${r.status}`, o)
  }
  if (r.status >= 400 && oauthError === undefined) {
    return new TesseraClientError(
      'server',
      `${what}: unexpected ${r.status} without an OAuth error`,
      o,
    )
  }
  return undefined
}

function originOf(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return 'the server'
  }
}
