import { CookieJar } from '../../../server/test/helpers/oauth-flow.js'
import type { FetchLike } from '../../src/index.js'

/**
 * `fetch` as a page at `origin` runs it in a browser, for the parts cookie delivery depends on:
 * cross-origin requests carry `Origin`; with `credentials: 'include'` they carry the cookies of
 * the target's jar and store its Set-Cookie, and the response is readable only when the server
 * answers `Access-Control-Allow-Origin: <origin>` with `Access-Control-Allow-Credentials: true`
 * (else the page sees a network error, as in a browser). Without credentials, no cookie goes out
 * or comes in. One jar, for the one server the tests set cookies on.
 */
export class BrowserFetch {
  readonly jar = new CookieJar()
  /** When it returns true for a request, the server answers but the response never arrives (and
   * its cookies are not stored): a connection lost after the server committed. */
  lose: ((req: Request) => boolean) | undefined

  readonly origin: string

  constructor(origin: string) {
    this.origin = origin
  }

  fetch: FetchLike = async (input, init) => {
    const req = new Request(input, init)
    const target = new URL(req.url)
    const crossOrigin = target.origin !== this.origin
    const withCookies = req.credentials === 'include' || !crossOrigin
    const headers = new Headers(req.headers)
    if (crossOrigin || req.method !== 'GET') headers.set('origin', this.origin)
    const cookie = this.jar.header()
    if (withCookies && cookie !== undefined) headers.set('cookie', cookie)
    else headers.delete('cookie')
    const res = await fetch(new Request(req, { headers }))
    if (this.lose?.(req)) {
      await res.arrayBuffer()
      throw new TypeError('fetch failed: connection reset')
    }
    if (crossOrigin) {
      const allow = res.headers.get('access-control-allow-origin')
      const credentialed = req.credentials === 'include'
      const ok = credentialed
        ? allow === this.origin && res.headers.get('access-control-allow-credentials') === 'true'
        : allow === '*' || allow === this.origin
      if (!ok) {
        await res.arrayBuffer()
        throw new TypeError('Failed to fetch (blocked by CORS)')
      }
    }
    if (withCookies) this.jar.store(res)
    return res
  }

  /** The values of the cookies whose name starts with `prefix`. */
  cookies(prefix: string): string[] {
    return this.jar
      .names()
      .filter((n) => n.startsWith(prefix))
      .map((n) => this.jar.get(n)!)
  }
}
