const UNRESERVED = /[A-Za-z0-9\-._~]/

/**
 * An `htu` (or request URL) in the form RFC 9449 4.3 compares: an absolute http(s) URL without
 * query and fragment, normalised per RFC 3986 6.2.2 and 6.2.3 (scheme and host lower-cased,
 * default port dropped, dot segments removed, percent-encodings upper-cased, unreserved
 * characters decoded). Undefined when it is not such a URL.
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
