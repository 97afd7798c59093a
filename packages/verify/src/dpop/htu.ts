const UNRESERVED = /[A-Za-z0-9\-._~]/

/**
 * An `htu` value (or a request URL) in the form it is compared in (RFC 9449 4.3 step 9): an absolute http(s) URL
 * without query and fragment, normalised as RFC 3986 6.2.2 and 6.2.3 describe: scheme and host
 * lower-cased, the default port dropped, dot segments removed, an empty path as `/`,
 * percent-encodings upper-cased and unreserved characters decoded. Undefined when it is not
 * such a URL. The Tessera server compares its own endpoints' proofs with this same function, so
 * the issuer and the resource servers agree on what a proof's `htu` names.
 *
 * @example
 * normaliseHtu('HTTPS://Auth.Example.com:443/a/../oauth/%7etoken?x=1') // https://auth.example.com/oauth/~token
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 */
export function normaliseHtu(value: string): string | undefined {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined
  if (url.username !== '' || url.password !== '') return undefined
  const path = url.pathname.replace(/%[0-9A-Fa-f]{2}/g, (enc) => {
    const c = String.fromCharCode(Number.parseInt(enc.slice(1), 16))
    return UNRESERVED.test(c) ? c : enc.toUpperCase()
  })
  return `${url.protocol}//${url.host}${path}`
}
