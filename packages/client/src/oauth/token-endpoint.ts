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
 * POSTs a form to the token endpoint as a public client. Transient failures (network, 5xx, 429)
 * throw a TesseraClientError; an OAuth error response is returned for the caller to judge.
 */
export async function tokenRequest(
  http: HttpContext,
  endpoint: string,
  form: URLSearchParams,
): Promise<TokenResult> {
  const r = await requestJson(http, endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: form.toString(),
  })
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
    typeof b.token_type !== 'string' ||
    b.token_type.toLowerCase() !== 'bearer' ||
    (b.expires_in !== undefined && typeof b.expires_in !== 'number') ||
    (b.refresh_token !== undefined && typeof b.refresh_token !== 'string') ||
    (b.id_token !== undefined && typeof b.id_token !== 'string')
  ) {
    throw new TesseraClientError(
      'server',
      'token endpoint: the response is not a bearer token response',
      {
        status: r.status,
      },
    )
  }
  const dateHeader = r.headers.get('date')
  const date = dateHeader === null ? undefined : Date.parse(dateHeader)
  return {
    ok: true,
    tokens: b as unknown as TokenResponse,
    sentAt: r.sentAt,
    receivedAt: r.receivedAt,
    date: date === undefined || Number.isNaN(date) ? undefined : date,
  }
}

/** POSTs a revocation request (RFC 7009) for a refresh token. Resolves whether the server said 200. */
export async function revokeRefreshToken(
  http: HttpContext,
  endpoint: string,
  clientId: string,
  token: string,
): Promise<boolean> {
  const r = await requestJson(http, endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      token,
      token_type_hint: 'refresh_token',
      client_id: clientId,
    }).toString(),
  })
  return r.status === 200
}
