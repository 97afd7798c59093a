import { TesseraVerifyError } from '../errors.js'

/** Longest Authorization header looked at; Node's own default header limit is 16 KiB. */
const MAX_HEADER = 16_384

const CREDENTIALS = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*) *$/i

/** An access token and the scheme it came with. */
export interface PresentedToken {
  scheme: 'Bearer' | 'DPoP'
  token: string
}

/**
 * The access token of a request: only from the `Authorization` header, with the `Bearer` (RFC
 * 6750 2.1) or the `DPoP` scheme (RFC 9449 7.1). A token in the URL query (`access_token`, RFC
 * 6750 2.3) is refused, since URLs end up in logs, history and Referer headers (OAuth 2.1 5.1,
 * TOK-02). Form-body tokens (RFC 6750 2.2) are not read.
 *
 * @param search the URL's query string, with or without the leading `?`
 */
export function presentedToken(authorization: string | undefined, search: string): PresentedToken {
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
  const m = CREDENTIALS.exec(authorization)
  if (!m) {
    const scheme = /^(Bearer|DPoP)(\s|$)/i.exec(authorization)?.[1]
    if (scheme !== undefined) {
      const name = scheme.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer'
      throw new TesseraVerifyError(
        'token_malformed',
        `the token is malformed: the ${name} credentials are not a token68 string`,
        { scheme: name },
      )
    }
    throw new TesseraVerifyError(
      'token_missing',
      'the Authorization header is not a Bearer or DPoP token',
    )
  }
  return {
    scheme: (m[1] as string).toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer',
    token: m[2] as string,
  }
}

/** The query string of a request URL (absolute, or a path with a query). */
export function searchOf(url: string): string {
  const q = url.indexOf('?')
  if (q < 0) return ''
  const h = url.indexOf('#', q)
  return h < 0 ? url.slice(q + 1) : url.slice(q + 1, h)
}

/** The values of a DPoP header as a framework hands them over: a list (Node's `headersDistinct`)
 * or one string, where a fetch `Headers` object has joined repeated headers with commas (a
 * proof, a compact JWS, never contains one). */
export function dpopValues(header: string | readonly string[] | null | undefined): string[] {
  if (header === undefined || header === null) return []
  const list = typeof header === 'string' ? [header] : [...header]
  return list.flatMap((v) => v.split(',').map((x) => x.trim()))
}
