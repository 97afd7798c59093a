import type { FetchInit, FetchInput, FetchResponse } from '../platform-types.js'
import type { FetchLike } from '../http/http.js'
import type { DiagnosticsHub } from './diagnostics-hub.js'
import { apiForUrl, type ResolvedApi } from './options.js'

export interface AuthenticatedFetchDeps {
  apis: readonly ResolvedApi[]
  fetch: FetchLike
  events: DiagnosticsHub
  getToken: (o: { audience: string }) => Promise<string>
  invalidateToken: (token: string) => void
  /** Sends the requests with a token: `fetch`, or the DPoP agent's `send`. */
  send: FetchLike
}

/**
 * `fetch` with the right access token: requests under a configured API's `baseUrl` get its
 * token; others go out untouched. A 401 whose `WWW-Authenticate` says `error="invalid_token"`
 * refreshes once and replays the request once; a second 401 is returned as is. A 401
 * `insufficient_user_authentication` (RFC 9470) is returned as is, without a refresh, and
 * reported as a `step_up_required` event for `stepUp`.
 */
export function authenticatedFetch(
  d: AuthenticatedFetchDeps,
): (input: FetchInput, init?: FetchInit) => Promise<FetchResponse> {
  return async (input, init) => {
    const request = new Request(input, init)
    const api = apiForUrl(d.apis, request.url)
    if (!api) return d.fetch(request)
    const replay = request.clone()
    const opts = { audience: api.audience }
    const token = await d.getToken(opts)
    const first = await d.send(withBearer(request, token))
    const www = first.status === 401 ? first.headers.get('www-authenticate') : null
    const stepUp = stepUpChallenge(www)
    if (stepUp) d.events.emit({ type: 'step_up_required', audience: api.audience, ...stepUp })
    if (stepUp || !saysInvalidToken(www)) return first
    d.events.emit({ type: 'token_rejected', audience: api.audience })
    d.invalidateToken(token)
    const fresh = await d.getToken(opts)
    if (fresh === token) return first
    d.events.emit({ type: 'replay', audience: api.audience })
    return d.send(withBearer(replay, fresh))
  }
}

/** Whether a `WWW-Authenticate` value carries a Bearer or DPoP challenge with
 * `error="invalid_token"`. */
export function saysInvalidToken(header: string | null): boolean {
  if (header === null) return false
  return /(^|,)\s*(bearer|dpop)\b[^]*?\berror\s*=\s*"?invalid_token"?/i.test(header)
}

/** What a route asks of the sign-in, from a `WWW-Authenticate` value with
 * `error="insufficient_user_authentication"` (RFC 9470 3); undefined for any other. */
export function stepUpChallenge(
  header: string | null,
): { acrValues: string[] | undefined; maxAge: number | undefined } | undefined {
  if (!/error="?insufficient_user_authentication\b/.test(header ?? '')) return
  const acr = /, *acr_values="?([^",]+)/.exec(header!)?.[1]
  const age = /, *max_age="?(\d+)/.exec(header!)?.[1]
  return { acrValues: acr?.split(' '), maxAge: age ? +age : undefined }
}

function withBearer(req: Request, token: string): Request {
  const headers = new Headers(req.headers)
  headers.set('authorization', `Bearer ${token}`)
  return new Request(req, { headers })
}
