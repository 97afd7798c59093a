import { CookieJar } from './cookie-jar.js'
import { HttpClient, type HttpResponse } from './http.js'

/**
 * One browser against one origin, for driving a sign-in: keeps cookies, never follows redirects
 * (the caller follows them, so every step is checked).
 */
export class Browser {
  readonly #http: HttpClient
  readonly #jar = new CookieJar()
  readonly #base: string

  constructor(baseUrl: string) {
    this.#base = baseUrl
    this.#http = new HttpClient(baseUrl, { maxSockets: 1 })
  }

  async get(pathOrUrl: string): Promise<HttpResponse> {
    const res = await this.#http.request(this.path(pathOrUrl), { headers: this.#jar.header() })
    this.#jar.store(res.headers)
    return res
  }

  async post(pathOrUrl: string, form: Record<string, string>): Promise<HttpResponse> {
    const res = await this.#http.postForm(this.path(pathOrUrl), form, this.#jar.header())
    this.#jar.store(res.headers)
    return res
  }

  /** The path and query of a URL on this origin (redirects may be absolute). */
  path(pathOrUrl: string): string {
    const u = new URL(pathOrUrl, this.#base)
    if (u.origin !== new URL(this.#base).origin) throw new Error(`${u.origin} is another origin`)
    return u.pathname + u.search
  }

  close(): void {
    this.#http.close()
  }
}

/** The Location of a redirect, or an error naming the step that did not redirect. */
export function redirectOf(res: HttpResponse, step: string): string {
  const loc = res.headers.location
  if (res.status < 300 || res.status > 399 || typeof loc !== 'string') {
    throw new Error(
      `${step}: expected a redirect, got HTTP ${res.status}: ${res.body.slice(0, 300)}`,
    )
  }
  return loc
}

/** The named inputs of an HTML page's forms (hidden fields, prefilled values), by name. */
export function formFields(html: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of html.matchAll(/<input\b[^>]*>/g)) {
    const name = /\bname="([^"]*)"/.exec(m[0])?.[1]
    const value = /\bvalue="([^"]*)"/.exec(m[0])?.[1] ?? ''
    if (name !== undefined && !(name in out)) out[name] = decodeEntities(value)
  }
  return out
}

function decodeEntities(s: string): string {
  return s
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCharCode(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
}

/** The `code` of an authorization response redirect to `redirectUri`. */
export function codeOf(location: string, redirectUri: string): string {
  const u = new URL(location)
  if (u.origin + u.pathname !== redirectUri) {
    throw new Error(`expected the redirect to the client, got ${u.origin}${u.pathname}`)
  }
  const code = u.searchParams.get('code')
  if (!code) {
    throw new Error(
      `no code in the authorization response (error ${u.searchParams.get('error') ?? 'none'})`,
    )
  }
  return code
}
