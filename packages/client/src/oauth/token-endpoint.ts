import type { FetchInit } from '../platform-types.js'
import { TesseraClientError } from '../errors.js'
import { requestJson, transientError, type HttpContext } from '../http/http.js'

/** A successful token response (RFC 6749 5.1), checked for shape. */
export interface TokenResponse {
  access_token: string
  token_type: string
  expires_in?: number
  refresh_token?: string
  /** Tessera: seconds until the session ends (idle or absolute). */
  refresh_token_expires_in?: number
  id_token?: string
  scope?: string
}

export type TokenResult =
  | {
      ok: true
      tokens: TokenResponse
      sentAt: number
      receivedAt: number
      date: number | undefined
    }
  | { ok: false; error: string; status: number }

/**
 * The header Tessera requires on requests of cookie-delivery clients: a page can add it to a
 * cross-origin request only after a CORS preflight, which only the client's registered origins
 * pass.
 */
export const COOKIE_REQUEST_HEADER = 'tessera-refresh-cookie'

/** How a request reaches the server: `cookie` sends the server's HttpOnly refresh cookie. */
export interface TokenRequestOptions {
  cookie?: boolean
}

function requestInit(form: { toString(): string }, o: TokenRequestOptions): FetchInit {
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  }
  if (o.cookie) headers[COOKIE_REQUEST_HEADER] = '1'
  return {
    method: 'POST',
    headers,
    body: form.toString(),
    credentials: o.cookie ? 'include' : undefined,
  }
}

/**
 * POSTs a form to the token endpoint as a public client. Transient failures (network, 5xx, 429)
 * throw a TesseraClientError; an OAuth error response is returned for the caller to judge.
 */
export async function tokenRequest(
  http: HttpContext,
  endpoint: string,
  form: { toString(): string },
  o: TokenRequestOptions = {},
): Promise<TokenResult> {
  const r = await requestJson(http, endpoint, requestInit(form, o))
  const transient = transientError(r, 'token endpoint', http.clock.now())
  if (transient) throw transient
  const b = r.body
  if (r.status !== 200) {
    return {
      ok: false,
      error: typeof b?.error === 'string' ? b.error : 'invalid_request',
      status: r.status,
    }
  }
  if (
    !b ||
    typeof b.access_token !== 'string' ||
    b.access_token === '' ||
    // `DPoP` (RFC 9449 5): a token bound to the key of the proof sent with the request.
    typeof b.token_type !== 'string' ||
    !/^(bearer|dpop)$/i.test(b.token_type) ||
    (b.expires_in !== undefined && typeof b.expires_in !== 'number') ||
    (b.refresh_token !== undefined && typeof b.refresh_token !== 'string') ||
    (b.id_token !== undefined && typeof b.id_token !== 'string')
  ) {
    throw new TesseraClientError('server', 'token endpoint: the response is not a token response', {
      status: r.status,
    })
  }
  const date = Date.parse(r.headers.get('date') ?? '') // NaN without one
  return {
    ok: true,
    tokens: b as unknown as TokenResponse,
    sentAt: r.sentAt,
    receivedAt: r.receivedAt,
    date: Number.isNaN(date) ? undefined : date,
  }
}

/**
 * POSTs a revocation request (RFC 7009) for a refresh token: `token`, or, with `cookie`, the one
 * in the server's refresh cookie (which the answer clears). Resolves whether the server said 200.
 */
export async function revokeRefreshToken(
  http: HttpContext,
  endpoint: string,
  clientId: string,
  token: string | null,
  o: TokenRequestOptions = {},
): Promise<boolean> {
  const form = new URLSearchParams({ token_type_hint: 'refresh_token', client_id: clientId })
  if (token !== null) form.set('token', token)
  const r = await requestJson(http, endpoint, requestInit(form, o))
  return r.status === 200
}
