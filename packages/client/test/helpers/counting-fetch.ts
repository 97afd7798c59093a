import type { FetchLike } from '../../src/index.js'

export interface TokenCall {
  grantType: string | null
  resource: string[]
  refreshToken: string | null
}

/**
 * The platform fetch, counting what the client sends to a token endpoint, with a hook to inject
 * faults (a lost response: the request reached the server, the answer never came back).
 */
export class CountingFetch {
  readonly tokenCalls: TokenCall[] = []
  readonly revocations: string[] = []
  readonly revocationBodies: URLSearchParams[] = []
  readonly urls: string[] = []
  /** Called after the server answered a token request; return 'lose' to drop the response. */
  afterToken: ((call: TokenCall) => 'lose' | 'hang' | undefined) | undefined
  /** Called before a token request; return an Error to fail without sending. */
  beforeToken: ((call: TokenCall) => Error | Response | undefined) | undefined

  readonly #inner: FetchLike

  /** `inner` sends the requests: the platform fetch, or a BrowserFetch. */
  constructor(inner: FetchLike = (input, init) => fetch(input, init)) {
    this.#inner = inner
  }

  fetch: FetchLike = async (input, init) => {
    const req = new Request(input, init)
    const url = new URL(req.url)
    this.urls.push(url.pathname)
    if (req.method === 'POST' && /\/(oauth\/)?token$/.test(url.pathname)) {
      const body = new URLSearchParams(await req.clone().text())
      const call: TokenCall = {
        grantType: body.get('grant_type'),
        resource: body.getAll('resource'),
        refreshToken: body.get('refresh_token'),
      }
      this.tokenCalls.push(call)
      const before = this.beforeToken?.(call)
      if (before instanceof Error) throw before
      if (before instanceof Response) return before
      const res = await this.#inner(req)
      const after = this.afterToken?.(call)
      if (after === 'lose') {
        await res.arrayBuffer()
        throw new TypeError('fetch failed: connection reset')
      }
      if (after === 'hang') {
        await res.arrayBuffer()
        return new Promise<Response>(() => {})
      }
      return res
    }
    if (req.method === 'POST' && /revo(ke|cation)$/.test(url.pathname)) {
      this.revocations.push(url.pathname)
      this.revocationBodies.push(new URLSearchParams(await req.clone().text()))
    }
    return this.#inner(req)
  }

  refreshes(): TokenCall[] {
    return this.tokenCalls.filter((c) => c.grantType === 'refresh_token')
  }
}
