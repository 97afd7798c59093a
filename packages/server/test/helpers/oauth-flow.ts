/**
 * Drives the front channel like a browser: GET /authorize, the hosted sign-in form, and the
 * redirect back to the client, with a small cookie jar for the SSO and CSRF cookies.
 *
 * @example
 * const user = await t.createUser()
 * const a = await authorize(t, { clientId: 'web-app' })
 * // a.code, a.codeVerifier, a.redirectUri go to the token endpoint
 * const again = await authorize(t, { jar: a.cookies, prompt: 'none' }) // SSO, no form
 */
import BetterSqlite3 from 'better-sqlite3'
import { expect } from 'vitest'
import { pkcePair } from './grants.js'
import { WEB_REDIRECT, type TestServer } from './test-server.js'

/** A minimal cookie jar for one origin: remembers Set-Cookie values and replays them. */
export class CookieJar {
  readonly #cookies = new Map<string, string>()

  /** Stores every Set-Cookie of a response; `Max-Age=0` or an empty value deletes. */
  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';')
      const eq = pair.indexOf('=')
      if (eq < 0) continue
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      const expired = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a))
      if (expired || value === '') this.#cookies.delete(name)
      else this.#cookies.set(name, value)
    }
  }

  get(name: string): string | undefined {
    return this.#cookies.get(name)
  }

  set(name: string, value: string): void {
    this.#cookies.set(name, value)
  }

  delete(name: string): void {
    this.#cookies.delete(name)
  }

  names(): string[] {
    return [...this.#cookies.keys()]
  }

  /** The Cookie request header, or undefined when the jar is empty. */
  header(): string | undefined {
    if (this.#cookies.size === 0) return undefined
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  /** Request headers carrying the jar's cookies. */
  headers(extra: Record<string, string> = {}): Record<string, string> {
    const h = this.header()
    return h ? { ...extra, cookie: h } : extra
  }
}

/** A fetch that never follows redirects and keeps cookies in `jar`. */
export async function browserFetch(
  jar: CookieJar,
  url: string,
  init: {
    method?: string
    form?: Record<string, string | string[]>
    headers?: Record<string, string>
  } = {},
): Promise<Response> {
  const headers = jar.headers(init.headers)
  let body: URLSearchParams | undefined
  if (init.form) {
    body = new URLSearchParams()
    for (const [k, v] of Object.entries(init.form)) {
      for (const x of Array.isArray(v) ? v : [v]) body.append(k, x)
    }
    headers['content-type'] = 'application/x-www-form-urlencoded'
  }
  const res = await fetch(url, {
    method: init.method ?? (body ? 'POST' : 'GET'),
    headers,
    redirect: 'manual',
    ...(body ? { body } : {}),
  })
  jar.store(res)
  return res
}

/** The hidden and text inputs of the first form of an HTML page, by name. */
export function formFields(html: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of html.matchAll(/<input\b[^>]*>/g)) {
    const tag = m[0]
    const name = /\bname="([^"]*)"/.exec(tag)?.[1]
    const value = /\bvalue="([^"]*)"/.exec(tag)?.[1] ?? ''
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

export interface AuthorizeOptions {
  /** Default `web-app`. */
  clientId?: string
  /** Default WEB_REDIRECT (the first URI of `web-app`); pass `null` to omit the parameter. */
  redirectUri?: string | null
  /** Default `openid offline_access read` (allowed for every demo client). */
  scope?: string
  /** RFC 8707 `resource`, one or several. Default: none (the grant gets all the client's APIs). */
  resource?: string | string[]
  /** Auth0's alias of `resource`. */
  audience?: string
  /** Default: a random value. Pass `null` to omit. */
  state?: string | null
  nonce?: string
  prompt?: string
  maxAge?: number
  loginHint?: string
  /** Default `alice` / `correct horse battery` (the defaults of `t.createUser()`). */
  username?: string
  password?: string
  /** Reuse a browser (SSO cookie). Default: a fresh jar. */
  jar?: CookieJar
  /** Send the authorization request as a POST form (OIDC Core 3.1.2.1). Default GET. */
  method?: 'GET' | 'POST'
  /** More authorization parameters, sent as given (e.g. a custom code_challenge). */
  extra?: Record<string, string>
}

export interface AuthorizeResult {
  code: string
  state: string | null
  iss: string | null
  codeVerifier: string
  redirectUri: string
  clientId: string
  cookies: CookieJar
  /** The final redirect back to the client, parsed. */
  location: URL
  /** Whether the sign-in form was shown (false when the SSO session answered). */
  signedIn: boolean
}

/** The parameters `authorize` sends, with a fresh PKCE pair. */
export function authorizationParams(o: AuthorizeOptions = {}): {
  params: URLSearchParams
  codeVerifier: string
  clientId: string
  redirectUri: string
  state: string | null
} {
  const { verifier, challenge } = pkcePair()
  const clientId = o.clientId ?? 'web-app'
  const redirectUri = o.redirectUri === null ? null : (o.redirectUri ?? WEB_REDIRECT)
  const state = o.state === null ? null : (o.state ?? pkcePair().verifier.slice(0, 16))
  const p = new URLSearchParams()
  p.set('client_id', clientId)
  p.set('response_type', 'code')
  if (redirectUri !== null) p.set('redirect_uri', redirectUri)
  p.set('scope', o.scope ?? 'openid offline_access read')
  p.set('code_challenge', challenge)
  p.set('code_challenge_method', 'S256')
  if (state !== null) p.set('state', state)
  if (o.nonce !== undefined) p.set('nonce', o.nonce)
  if (o.prompt !== undefined) p.set('prompt', o.prompt)
  if (o.maxAge !== undefined) p.set('max_age', String(o.maxAge))
  if (o.loginHint !== undefined) p.set('login_hint', o.loginHint)
  if (o.audience !== undefined) p.set('audience', o.audience)
  for (const r of o.resource === undefined ? [] : [o.resource].flat()) p.append('resource', r)
  for (const [k, v] of Object.entries(o.extra ?? {})) p.set(k, v)
  return {
    params: p,
    codeVerifier: verifier,
    clientId,
    redirectUri: redirectUri ?? WEB_REDIRECT,
    state,
  }
}

/** Sends the authorization request; returns the raw response (a redirect or a page). */
export async function startAuthorize(
  t: TestServer,
  params: URLSearchParams,
  jar: CookieJar,
  method: 'GET' | 'POST' = 'GET',
): Promise<Response> {
  if (method === 'POST') {
    return browserFetch(jar, t.url + '/authorize', {
      form: Object.fromEntries(groupParams(params)),
    })
  }
  return browserFetch(jar, `${t.url}/authorize?${params.toString()}`)
}

function groupParams(p: URLSearchParams): Map<string, string[]> {
  const m = new Map<string, string[]>()
  for (const [k, v] of p) m.set(k, [...(m.get(k) ?? []), v])
  return m
}

/** Opens the sign-in page a /authorize redirect points to; returns the page and its form fields. */
export async function openLogin(
  t: TestServer,
  res: Response,
  jar: CookieJar,
): Promise<{ res: Response; html: string; fields: Record<string, string> }> {
  const loc = res.headers.get('location')
  if (!loc) throw new Error(`expected a redirect to the sign-in page, got ${res.status}`)
  const url = new URL(loc, t.url)
  if (url.pathname !== '/login')
    throw new Error(`expected a redirect to /login, got ${url.pathname}`)
  const page = await browserFetch(jar, url.toString())
  const html = await page.text()
  return { res: page, html, fields: formFields(html) }
}

/** Posts the sign-in form with credentials. */
export async function submitLogin(
  t: TestServer,
  fields: Record<string, string>,
  jar: CookieJar,
  username: string,
  password: string,
): Promise<Response> {
  return browserFetch(jar, t.url + '/login', { form: { ...fields, username, password } })
}

/**
 * Runs the whole front channel: /authorize, the sign-in form when the SSO session does not answer,
 * and the redirect back with `code`, `state` and `iss`. Throws when the flow ends in an error
 * redirect or page, with the error code in the message.
 */
export async function authorize(t: TestServer, o: AuthorizeOptions = {}): Promise<AuthorizeResult> {
  const jar = o.jar ?? new CookieJar()
  const { params, codeVerifier, clientId, redirectUri, state } = authorizationParams(o)
  let res = await startAuthorize(t, params, jar, o.method)
  let signedIn = false
  if (isLoginRedirect(t, res)) {
    const login = await openLogin(t, res, jar)
    res = await submitLogin(
      t,
      login.fields,
      jar,
      o.username ?? 'alice',
      o.password ?? 'correct horse battery',
    )
    signedIn = true
  }
  const loc = res.headers.get('location')
  if (res.status !== 303 || !loc) {
    throw new Error(
      `authorize: expected a 303 back to the client, got ${res.status}: ${(await res.text()).slice(0, 300)}`,
    )
  }
  const location = new URL(loc)
  const error = location.searchParams.get('error')
  if (error) {
    throw new Error(`authorize: ${error}: ${location.searchParams.get('error_description') ?? ''}`)
  }
  const code = location.searchParams.get('code')
  if (!code) throw new Error(`authorize: no code in ${location.origin}${location.pathname}`)
  if (location.searchParams.get('state') !== state) throw new Error('authorize: state mismatch')
  return {
    code,
    state: location.searchParams.get('state'),
    iss: location.searchParams.get('iss'),
    codeVerifier,
    redirectUri,
    clientId,
    cookies: jar,
    location,
    signedIn,
  }
}

/** Whether a response is the redirect from /authorize to the hosted sign-in page. */
export function isLoginRedirect(t: TestServer, res: Response): boolean {
  const loc = res.headers.get('location')
  if (!loc || res.status < 300 || res.status > 399) return false
  const u = new URL(loc, t.url)
  return u.origin === new URL(t.url).origin && u.pathname === '/login'
}

/** Rows per table (and the sum of throttle counters), read straight from the test database. */
export interface RowCounts {
  authorization_codes: number
  browser_sessions: number
  /** Browser sessions not ended. */
  live_browser_sessions: number
  sessions: number
  active_sessions: number
  security_events: number
  throttle_rows: number
  throttle_hits: number
}

export function rowCounts(t: TestServer): RowCounts {
  const db = new BetterSqlite3(t.dbFile, { readonly: true, fileMustExist: true })
  try {
    const one = (sql: string): number =>
      Number((db.prepare(sql).get() as { n: number | null }).n ?? 0)
    return {
      authorization_codes: one('select count(*) as n from authorization_codes'),
      browser_sessions: one('select count(*) as n from browser_sessions'),
      live_browser_sessions: one(
        'select count(*) as n from browser_sessions where ended_at is null',
      ),
      sessions: one('select count(*) as n from sessions'),
      active_sessions: one("select count(*) as n from sessions where state = 'active'"),
      security_events: one('select count(*) as n from security_events'),
      throttle_rows: one('select count(*) as n from throttle'),
      throttle_hits: one('select sum(count) as n from throttle'),
    }
  } finally {
    db.close()
  }
}

/**
 * Asserts an HTML error page (not a redirect) naming the OAuth error; returns the page text.
 */
export async function expectErrorPage(
  res: Response,
  status: number,
  error: string,
): Promise<string> {
  const html = await res.text()
  expect({ status: res.status, location: res.headers.get('location') }).toEqual({
    status,
    location: null,
  })
  expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
  // Error pages of the front channel cannot be framed, cached or leak a referrer (RDR-11, RDR-15).
  expect(res.headers.get('x-frame-options')).toBe('DENY')
  expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
  expect(res.headers.get('referrer-policy')).toBe('no-referrer')
  expect(res.headers.get('cache-control')).toBe('no-store')
  expect(html).toContain(error)
  return html
}

/** The query parameters of a redirect back to a client. */
export function redirectParams(res: Response): Record<string, string> {
  const loc = res.headers.get('location')
  if (!loc) throw new Error(`expected a redirect, got ${res.status}`)
  return Object.fromEntries(new URL(loc).searchParams)
}
