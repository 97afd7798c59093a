import { ConfigError, type UpstreamProvider } from './config.js'

/** The `upstream` setting as written: a list of providers. */
export type UpstreamInput = Partial<UpstreamProvider>[]

const KEYS = ['id', 'name', 'issuer', 'clientId', 'clientSecret', 'scopes']
const ID = /^[a-z0-9-]{1,32}$/
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+$/
const LOOPBACK = ['127.0.0.1', 'localhost', '[::1]']

/**
 * Validates the `upstream` providers; throws ConfigError naming the first bad setting. A message
 * never repeats a value given for `clientSecret`.
 */
export function resolveUpstream(input: unknown): UpstreamProvider[] {
  if (input === undefined) return []
  if (!Array.isArray(input)) throw new ConfigError('upstream', 'must be a list of providers')
  const ids = new Set<string>()
  return input.map((raw: unknown, i) => {
    const at = `upstream[${i}]`
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new ConfigError(at, 'must be an object')
    }
    const p = raw as Record<string, unknown>
    for (const key of Object.keys(p)) {
      if (!KEYS.includes(key)) throw new ConfigError(`${at}.${key}`, 'is not a known setting')
    }
    if (typeof p.id !== 'string' || !ID.test(p.id)) {
      throw new ConfigError(`${at}.id`, 'must be 1 to 32 characters of a-z, 0-9 and -')
    }
    if (ids.has(p.id)) throw new ConfigError(`${at}.id`, 'is listed twice')
    ids.add(p.id)
    if (typeof p.name !== 'string' || p.name.trim() === '' || p.name.length > 64) {
      throw new ConfigError(`${at}.name`, 'must be a non-empty string of at most 64 characters')
    }
    const issuer = issuerUrl(`${at}.issuer`, p.issuer)
    if (typeof p.clientId !== 'string' || p.clientId === '' || p.clientId.length > 256) {
      throw new ConfigError(`${at}.clientId`, 'must be a non-empty string')
    }
    if (typeof p.clientSecret !== 'string' || p.clientSecret.length < 1) {
      throw new ConfigError(`${at}.clientSecret`, 'must be a non-empty string')
    }
    const scopes = p.scopes ?? ['openid', 'email', 'profile']
    if (
      !Array.isArray(scopes) ||
      !scopes.every((s): s is string => typeof s === 'string' && SCOPE.test(s))
    ) {
      throw new ConfigError(`${at}.scopes`, 'must be a list of scope tokens')
    }
    if (!scopes.includes('openid')) throw new ConfigError(`${at}.scopes`, 'must include openid')
    return {
      id: p.id,
      name: p.name,
      issuer,
      clientId: p.clientId,
      clientSecret: p.clientSecret,
      scopes: [...new Set(scopes)],
    }
  })
}

function issuerUrl(setting: string, v: unknown): string {
  if (typeof v !== 'string') throw new ConfigError(setting, 'must be a URL')
  let u: URL
  try {
    u = new URL(v)
  } catch {
    throw new ConfigError(setting, 'must be an absolute URL')
  }
  if (u.search || u.hash || u.username || u.password) {
    throw new ConfigError(setting, 'must not have a query, fragment or credentials')
  }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK.includes(u.hostname))) {
    throw new ConfigError(setting, 'must use https (http only on a loopback address)')
  }
  return v
}

/** Whether the provider's endpoints are plain http (a loopback issuer, in tests and development). */
export function insecureUpstream(p: UpstreamProvider): boolean {
  return new URL(p.issuer).protocol === 'http:'
}
