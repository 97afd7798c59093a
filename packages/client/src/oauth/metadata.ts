import { TesseraClientError } from '../errors.js'
import { requestJson, transientError, type HttpContext } from '../http/http.js'

/** The members of the authorization server's metadata (RFC 8414, OIDC Discovery) the client uses. */
export interface ServerMetadata {
  issuer: string
  authorization_endpoint: string
  token_endpoint: string
  jwks_uri?: string
  revocation_endpoint?: string
  end_session_endpoint?: string
  userinfo_endpoint?: string
  code_challenge_methods_supported?: string[]
  id_token_signing_alg_values_supported?: string[]
  authorization_response_iss_parameter_supported?: boolean
}

const URL_MEMBERS = [
  'authorization_endpoint',
  'token_endpoint',
  'jwks_uri',
  'revocation_endpoint',
  'end_session_endpoint',
  'userinfo_endpoint',
] as const

/**
 * Checks a metadata document: `issuer` must equal the configured issuer exactly (SDK-07, RFC 8414
 * section 3.3, OIDC Discovery 4.3), endpoints must be absolute https URLs (http only on loopback),
 * and S256 must be supported when methods are listed.
 */
export function validateMetadata(issuer: string, doc: Record<string, unknown>): ServerMetadata {
  if (doc.issuer !== issuer) {
    throw new TesseraClientError(
      'iss_mismatch',
      `${issuerMismatch('the metadata issuer', doc.issuer, issuer)} (RFC 8414 section 3.3)`,
    )
  }
  for (const k of URL_MEMBERS) {
    const v = doc[k]
    if (v === undefined && k !== 'authorization_endpoint' && k !== 'token_endpoint') continue
    if (typeof v !== 'string' || !isAllowedUrl(v)) {
      throw new TesseraClientError('configuration', `the metadata's ${k} is not a usable URL`)
    }
  }
  const methods = doc.code_challenge_methods_supported
  if (Array.isArray(methods) && !methods.includes('S256')) {
    throw new TesseraClientError('configuration', 'the server does not support PKCE with S256')
  }
  return doc as unknown as ServerMetadata
}

/**
 * Names both issuers, and the commonest real mistake: a trailing slash on one side only.
 * `what` is the source of `received` (`the metadata issuer`, `the callback iss`).
 */
export function issuerMismatch(what: string, received: unknown, configured: string): string {
  const got = typeof received === 'string' ? JSON.stringify(received.slice(0, 200)) : 'missing'
  const base = `${what} is ${got}, but the configured issuer is ${JSON.stringify(configured)}`
  if (typeof received === 'string' && received.replace(/\/$/, '') === configured.replace(/\/$/, ''))
    return `${base}: they differ only by a trailing slash; configure the issuer exactly as the server states it`
  return `${base}; configure the issuer exactly as the server states it`
}

export function isAllowedUrl(v: string): boolean {
  let u: URL
  try {
    u = new URL(v)
  } catch {
    return false
  }
  if (u.protocol === 'https:') return true
  return (
    u.protocol === 'http:' &&
    (u.hostname === '127.0.0.1' || u.hostname === '[::1]' || u.hostname === 'localhost')
  )
}

/** Fetches and validates `{issuer}/.well-known/openid-configuration`. */
export async function discover(http: HttpContext, issuer: string): Promise<ServerMetadata> {
  const url = issuer.replace(/\/$/, '') + '/.well-known/openid-configuration'
  const r = await requestJson(http, url, { method: 'GET', headers: { accept: 'application/json' } })
  if (r.status === 404 || r.status === 410) {
    // A typo in the issuer's path, not an outage: retrying cannot help.
    throw new TesseraClientError(
      'configuration',
      `discovery: ${url} answered ${r.status}; check the issuer option (the metadata must be served at {issuer}/.well-known/openid-configuration)`,
      { status: r.status },
    )
  }
  const transient = transientError(r, 'discovery', http.clock.now())
  if (transient) throw transient
  if (r.status !== 200 || !r.body) {
    throw new TesseraClientError('server', `discovery: unexpected response ${r.status}`, {
      status: r.status,
    })
  }
  return validateMetadata(issuer, r.body)
}
