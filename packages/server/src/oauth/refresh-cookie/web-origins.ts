import { isIP } from 'node:net'

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * Why `value` cannot be a registered web origin, or undefined when it can. An origin is exactly
 * what browsers send in the `Origin` header: `scheme://host[:port]`, lower case, no default port,
 * no path. https only, except on loopback or in development (as the issuer).
 */
export function webOriginProblem(value: string, dev: boolean): string | undefined {
  let u: URL
  try {
    u = new URL(value)
  } catch {
    return 'must be an origin (scheme://host[:port])'
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'must be an http(s) origin'
  if (u.origin !== value) {
    return `must be an origin exactly as browsers send it (${u.origin}), without path, query or fragment`
  }
  if (u.protocol === 'http:' && !dev && !LOOPBACK.has(u.hostname)) {
    return 'must use https (http only on loopback or in development)'
  }
  return undefined
}

/**
 * The part of a host that two same-site hosts must share, as far as it can be told without the
 * Public Suffix List: the whole host for IP addresses and single labels, else the last two labels.
 * Two hosts that differ here are certainly cross-site; two that agree may still be cross-site
 * (`a.co.uk`, `b.co.uk`), which the browser then shows by not sending the cookie.
 */
function siteHint(hostname: string): string {
  const host = hostname.replace(/^\[|\]$/g, '')
  if (isIP(host) !== 0) return host
  const labels = host.split('.')
  return labels.slice(-2).join('.')
}

/**
 * Why a web origin cannot receive the issuer's SameSite=Strict refresh cookie, or undefined. Same
 * site means the same scheme (schemeful same-site) and the same registrable domain; ports do not
 * count (`http://127.0.0.1:3000` and `http://127.0.0.1:4000` are same-site).
 *
 * @see https://datatracker.ietf.org/doc/html/draft-ietf-httpbis-rfc6265bis#section-5.2
 */
export function sameSiteProblem(origin: string, issuer: string): string | undefined {
  const o = new URL(origin)
  const i = new URL(issuer)
  if (o.protocol !== i.protocol) {
    return `must use the issuer's scheme (${i.protocol}): a SameSite=Strict cookie is not sent across schemes`
  }
  if (siteHint(o.hostname) !== siteHint(i.hostname)) {
    return 'is not same-site with the issuer: the browser would not send the SameSite=Strict refresh cookie'
  }
  return undefined
}
