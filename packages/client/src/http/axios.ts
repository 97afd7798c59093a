import type { TesseraClient } from '../client/tessera-client.js'
import { saysInvalidToken } from '../client/tessera-client.js'

/** The parts of an axios request config the interceptors touch (no axios dependency). */
export interface AxiosLikeRequestConfig {
  url?: string | undefined
  baseURL?: string | undefined
  headers?: unknown
}

export interface AxiosLikeResponse<C extends AxiosLikeRequestConfig = AxiosLikeRequestConfig> {
  status: number
  headers?: unknown
  config?: C
}

export interface AxiosLikeError<C extends AxiosLikeRequestConfig = AxiosLikeRequestConfig> {
  config?: C
  response?: AxiosLikeResponse<C>
}

/** An axios interceptor manager, as its `use` is typed (handlers may be `null`). */
export interface AxiosLikeInterceptorManager<V> {
  use(
    onFulfilled?: ((value: V) => V | Promise<V>) | null,
    onRejected?: ((error: unknown) => unknown) | null,
  ): number
  eject(id: number): void
}

/**
 * The parts of an axios instance `attachAxios` uses. Generic over axios's own config and response
 * types, so an `AxiosInstance` is accepted as it is, without a cast.
 */
export interface AxiosLikeInstance<
  C extends AxiosLikeRequestConfig = AxiosLikeRequestConfig,
  R = AxiosLikeResponse<C>,
> {
  interceptors: {
    request: AxiosLikeInterceptorManager<C>
    response: AxiosLikeInterceptorManager<R>
  }
  request(config: C): Promise<unknown>
}

/** Marks a config that was already replayed once. */
const REPLAYED = '__tesseraReplayed'

/** A config as the interceptors handle it: any axios config, plus the replay marker. */
type Config = AxiosLikeRequestConfig & { [REPLAYED]?: boolean }

function fullUrl(c: AxiosLikeRequestConfig): string | undefined {
  const url = c.url ?? ''
  try {
    return new URL(url, c.baseURL).href
  } catch {
    return undefined
  }
}

function setHeader(c: AxiosLikeRequestConfig, name: string, value: string): void {
  const h = c.headers as
    { set?: (n: string, v: string) => void } | Record<string, unknown> | undefined
  if (h && typeof (h as { set?: unknown }).set === 'function') {
    ;(h as { set: (n: string, v: string) => void }).set(name, value)
  } else {
    c.headers = { ...(h ?? {}), [name]: value }
  }
}

function getHeader(headers: unknown, name: string): string | null {
  if (!headers || typeof headers !== 'object') return null
  const h = headers as { get?: (n: string) => unknown } & Record<string, unknown>
  const v = typeof h.get === 'function' ? h.get(name) : (h[name] ?? h[name.toLowerCase()])
  return typeof v === 'string' ? v : Array.isArray(v) ? v.join(', ') : null
}

function bearerOf(c: AxiosLikeRequestConfig): string | undefined {
  const v = getHeader(c.headers, 'Authorization') ?? getHeader(c.headers, 'authorization')
  const m = v === null ? null : /^Bearer (.+)$/.exec(v)
  return m?.[1]
}

/**
 * Adds the client to an axios instance: a request interceptor that attaches the token of the
 * request URL's API (and nothing to other URLs), and a response interceptor that, on a 401 with
 * `error="invalid_token"`, refreshes once and replays the request once. Returns a function that
 * removes both.
 *
 * @example
 * const api = axios.create({ baseURL: 'https://api.example.com' })
 * const detach = attachAxios(client, api)
 */
export function attachAxios<C extends AxiosLikeRequestConfig, R>(
  client: TesseraClient,
  instance: AxiosLikeInstance<C, R>,
): () => void {
  const req = instance.interceptors.request.use(async (config: C) => {
    const url = fullUrl(config)
    const audience = url === undefined ? undefined : client.audienceFor(url)
    if (audience === undefined) return config
    setHeader(config, 'Authorization', `Bearer ${await client.getToken({ audience })}`)
    return config
  })
  const res = instance.interceptors.response.use(undefined, async (error: unknown) => {
    const e = error as AxiosLikeError<C & Config> | undefined
    const config = e?.config
    const response = e?.response
    if (!config || !response || response.status !== 401 || config[REPLAYED] === true) throw error
    if (!saysInvalidToken(getHeader(response.headers, 'www-authenticate'))) throw error
    const url = fullUrl(config)
    const audience = url === undefined ? undefined : client.audienceFor(url)
    const sent = bearerOf(config)
    if (audience === undefined || sent === undefined) throw error
    client.invalidateToken(sent)
    // The request interceptor runs again on replay and attaches the new token.
    config[REPLAYED] = true
    return instance.request(config)
  })
  return () => {
    instance.interceptors.request.eject(req)
    instance.interceptors.response.eject(res)
  }
}
