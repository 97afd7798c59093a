import type { FetchLike } from '../verifier/options.js'

export interface JsonRequest {
  fetch: FetchLike
  timeoutMs: number
  /** Largest response body accepted, in bytes. */
  maxBytes: number
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
}

/**
 * Requests a JSON object from the issuer: no redirects followed, bounded in time and size. Errors
 * name the URL and the reason, never a credential (the URLs are the issuer's public endpoints).
 */
export async function requestJson(url: string, o: JsonRequest): Promise<Record<string, unknown>> {
  const res = await o.fetch(url, {
    method: o.method ?? 'GET',
    headers: { accept: 'application/json', ...o.headers },
    ...(o.body !== undefined ? { body: o.body } : {}),
    redirect: 'manual',
    signal: AbortSignal.timeout(o.timeoutMs),
  })
  if (res.status !== 200) {
    await res.body?.cancel()
    throw new Error(`${url} answered HTTP ${res.status}`)
  }
  const length = Number(res.headers.get('content-length') ?? '0')
  if (length > o.maxBytes) {
    await res.body?.cancel()
    throw new Error(`${url} answered with more than ${o.maxBytes} bytes`)
  }
  const text = await res.text()
  if (text.length > o.maxBytes)
    throw new Error(`${url} answered with more than ${o.maxBytes} bytes`)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new Error(`${url} did not answer with JSON`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${url} did not answer with a JSON object`)
  }
  return value as Record<string, unknown>
}
