import type { FastifyRequest } from 'fastify'
import { InvalidRequest, InvalidToken, type OAuthError } from './errors.js'

/**
 * Adds the RFC 6750 3 challenge to an error of a bearer-protected endpoint:
 * `WWW-Authenticate: Bearer realm="tessera", error="...", error_description="..."`, plus any
 * extra auth-params (RFC 9470's `max_age`, say).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
export function bearerError<E extends OAuthError>(err: E, params: Record<string, string> = {}): E {
  const parts = [`Bearer realm="tessera"`, `error="${err.error}"`]
  if (err.error !== 'invalid_request')
    parts.push(`error_description="${err.message.replace(/"/g, "'")}"`)
  for (const [k, v] of Object.entries(params)) parts.push(`${k}=${v}`)
  err.headers['www-authenticate'] = parts.join(', ')
  return err
}

/**
 * The bearer token from the Authorization header or, when `allowBody` (POST forms, RFC 6750 2.2),
 * the form body; never from the query string (TOK-02). A request without any token gets a bare
 * challenge (RFC 6750 3.1: no error code).
 */
export function bearerToken(req: FastifyRequest, opts: { allowBody?: boolean } = {}): string {
  const q = req.url.indexOf('?')
  if (q >= 0 && new URLSearchParams(req.url.slice(q + 1)).has('access_token')) {
    throw bearerError(new InvalidRequest('the access token must not be sent in the URL'))
  }
  const h = req.headers.authorization
  const fromBody =
    opts.allowBody && req.body instanceof Map
      ? (req.body.get('access_token') as string[] | undefined)
      : undefined
  if (typeof h === 'string' && fromBody)
    throw bearerError(new InvalidRequest('send the access token once'))
  if (typeof h === 'string') {
    const m = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(h.trim())
    if (!m) throw bearerError(new InvalidToken('the Authorization header is not a Bearer token'))
    return m[1] as string
  }
  if (fromBody?.length === 1 && fromBody[0]) return fromBody[0]
  const e = new InvalidToken('an access token is required')
  e.headers['www-authenticate'] = 'Bearer realm="tessera"'
  throw e
}
