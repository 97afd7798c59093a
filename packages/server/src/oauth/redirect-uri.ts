/**
 * Redirect URI rules: what may be registered (RDR-03) and how a requested URI matches a registered
 * one (RDR-01, RDR-02).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-2.1
 * @see https://www.rfc-editor.org/rfc/rfc8252#section-7.3
 */

const LOOPBACK_IPS = new Set(['127.0.0.1', '[::1]'])

export function isLoopbackIp(hostname: string): boolean {
  return LOOPBACK_IPS.has(hostname)
}

/**
 * Returns why `uri` cannot be registered for a client of `applicationType`, or undefined.
 * `devIssuer` (dev mode only): the server's own http origin is allowed too, so `tessera dev
 * --issuer http://192.168.1.20:4000` keeps its playground callback for a phone on the LAN.
 */
export function registrationProblem(
  uri: string,
  applicationType: 'web' | 'native',
  devIssuer?: string,
): string | undefined {
  let u: URL
  try {
    u = new URL(uri)
  } catch {
    return 'is not an absolute URI'
  }
  if (uri.includes('#')) return 'must not contain a fragment'
  if (u.username || u.password) return 'must not contain credentials'
  if (u.protocol === 'https:') return undefined
  if (u.protocol === 'http:') {
    if (isLoopbackIp(u.hostname) || u.hostname === 'localhost') return undefined
    if (devIssuer !== undefined && u.origin === new URL(devIssuer).origin) return undefined
    return 'must use https (http is allowed only for loopback addresses)'
  }
  if (['javascript:', 'data:', 'file:', 'vbscript:', 'blob:'].includes(u.protocol)) {
    return `must not use the ${u.protocol} scheme`
  }
  if (applicationType !== 'native')
    return 'private-use URI schemes are allowed only for native clients'
  // RFC 8252 7.1: a private-use scheme is a reverse domain name, so it contains a dot.
  if (!u.protocol.slice(0, -1).includes('.')) {
    return 'a private-use URI scheme must be a reverse domain name (contain a dot)'
  }
  return undefined
}

/**
 * Exact string comparison, except that a native client's loopback IP redirect URI matches on any
 * port (RFC 8252 7.3). Scheme, host, path and query must still match exactly, and `localhost` never
 * matches `127.0.0.1`.
 */
export function redirectUriMatches(
  requested: string,
  registered: readonly string[],
  applicationType: 'web' | 'native',
): boolean {
  if (registered.includes(requested)) return true
  if (applicationType !== 'native') return false
  let r: URL
  try {
    r = new URL(requested)
  } catch {
    return false
  }
  if (r.protocol !== 'http:' || !isLoopbackIp(r.hostname)) return false
  const portless = (u: URL): string => `${u.protocol}//${u.hostname}${u.pathname}${u.search}`
  return registered.some((reg) => {
    let g: URL
    try {
      g = new URL(reg)
    } catch {
      return false
    }
    if (g.protocol !== 'http:' || !isLoopbackIp(g.hostname)) return false
    // Compare the raw strings minus the port so that URL normalisation cannot hide a difference.
    return stripPort(reg) === stripPort(requested) && portless(g) === portless(r)
  })
}

function stripPort(uri: string): string {
  return uri.replace(/^(http:\/\/(?:127\.0\.0\.1|\[::1\])):\d{1,5}(?=[/?]|$)/, '$1')
}
