import { TesseraVerifyError } from '../errors.js'

/** Longest Authorization header looked at; Node's own default header limit is 16 KiB. */
const MAX_HEADER = 16_384

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i

/**
 * The bearer token of a request: only from the `Authorization` header (RFC 6750 2.1). A token in
 * the URL query (`access_token`, RFC 6750 2.3) is refused, since URLs end up in logs, history and
 * Referer headers (OAuth 2.1 5.1, TOK-02). Form-body tokens (RFC 6750 2.2) are not read.
 *
 * @param search the URL's query string, with or without the leading `?`
 */
export function bearerToken(authorization: string | undefined, search: string): string {
  if (search !== '' && new URLSearchParams(search).has('access_token')) {
    throw new TesseraVerifyError(
      'token_in_query',
      'the access token must be sent in the Authorization header, never in the URL',
    )
  }
  if (authorization === undefined || authorization === '') {
    throw new TesseraVerifyError('token_missing', 'no access token was presented')
  }
  if (authorization.length > MAX_HEADER) {
    throw new TesseraVerifyError('token_too_large', 'the Authorization header is too large')
  }
  const m = BEARER.exec(authorization)
  if (!m) {
    if (/^Bearer(\s|$)/i.test(authorization)) {
      throw new TesseraVerifyError(
        'token_malformed',
        'the token is malformed: the Bearer credentials are not a token68 string',
      )
    }
    throw new TesseraVerifyError('token_missing', 'the Authorization header is not a Bearer token')
  }
  return m[1] as string
}

/** The query string of a request URL (absolute, or a path with a query). */
export function searchOf(url: string): string {
  const q = url.indexOf('?')
  if (q < 0) return ''
  const h = url.indexOf('#', q)
  return h < 0 ? url.slice(q + 1) : url.slice(q + 1, h)
}
