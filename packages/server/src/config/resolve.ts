import { DPOP_ALGORITHMS, isDpopAlgorithm } from '../oauth/dpop/dpop-algorithms.js'
import { registrationProblem } from '../oauth/redirect-uri.js'
import type { GrantType, SigningAlg } from '../store/types.js'
import { DEFAULT_PASSWORD_COST } from '../users/password.js'
import {
  ConfigError,
  type AdminKeyConfig,
  type AdminSettings,
  type ApiConfig,
  type ClientConfig,
  type DpopConfig,
  type HttpSettings,
  type MetricsSettings,
  type PostgresConfig,
  type RetentionConfig,
  type SqliteConfig,
  type TesseraConfig,
  type WebhookEndpointConfig,
} from './config.js'
import { resolveListeners } from './resolve-listeners.js'
import { resolveWebhooks } from './resolve-webhooks.js'
import { resolveUpstream, type UpstreamInput } from './resolve-upstream.js'
import {
  resolveAccounts,
  resolveClientRequireVerifiedEmail,
  resolveClientSignUp,
  resolveEmail,
  type AccountsInput,
  type EmailInput,
} from './resolve-accounts.js'
import { resolveBranding, type BrandingInput } from './resolve-branding.js'
import { SCOPE_TOKEN } from '../oauth/scope-token.js'
import { sameSiteProblem, webOriginProblem } from '../oauth/refresh-cookie/web-origins.js'
import { ACCOUNT_SESSIONS_SCOPE } from '../oauth/token/audience.js'
import { GRACE_MAX_USES_RANGE, GRACE_SECONDS_RANGE } from '../oauth/token/grace-window.js'

/** What a config file or a programmatic caller gives: everything optional but the issuer and secret. */
export interface ConfigInput {
  issuer?: string
  host?: string
  port?: number
  /** The server secret: any string of >= 32 bytes (`openssl rand -base64 48`). Or `secrets`. */
  secret?: string | Buffer
  /** The server secrets, newest first, for a rotation: the first signs and encrypts, every one
   * verifies and decrypts (see TesseraConfig.secrets). Instead of `secret`. */
  secrets?: (string | Buffer)[]
  database?: SqliteConfig | PostgresConfig
  signingAlg?: SigningAlg
  jwksMaxAgeSeconds?: number
  idTokenTtlSeconds?: number
  codeTtlSeconds?: number
  defaultAccessTokenTtlSeconds?: number
  browserSession?: Partial<TesseraConfig['browserSession']>
  trustProxy?: string[]
  throttle?: { [K in keyof TesseraConfig['throttle']]?: Partial<TesseraConfig['throttle'][K]> }
  admin?: Partial<AdminSettings>
  metrics?: Partial<MetricsSettings>
  http?: Partial<HttpSettings>
  bodyLimit?: number
  maintenanceIntervalSeconds?: number
  passwordCost?: TesseraConfig['passwordCost']
  dpop?: Partial<DpopConfig>
  dev?: boolean
  logLevel?: TesseraConfig['logLevel']
  clients?: ClientConfig[]
  apis?: ApiConfig[]
  account?: Partial<TesseraConfig['account']>
  retention?: Partial<RetentionConfig>
  webhooks?: {
    endpoints?: WebhookEndpointConfig[]
    timeoutSeconds?: number
    retryForSeconds?: number
    retentionSeconds?: number
  }
  email?: EmailInput
  accounts?: AccountsInput
  /** "Sign in with ..." providers (see TesseraConfig.upstream). */
  upstream?: UpstreamInput
  branding?: BrandingInput
}

const ALGS: SigningAlg[] = ['ES256', 'EdDSA', 'RS256']
const GRANTS: GrantType[] = ['authorization_code', 'refresh_token', 'client_credentials']
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

export function int(setting: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(setting, `must be a whole number from ${min} to ${max}`)
  }
  return v
}

function strings(setting: string, v: unknown): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw new ConfigError(setting, 'must be a list of strings')
  }
  return v as string[]
}

/** Most secrets a ring may hold: a rotation needs two, a second one started before the first
 * finished three; more is a forgotten clean-up, and every extra one costs a MAC per bad token. */
export const MAX_SECRETS = 4

/** `secret` or `secrets` (not both): at least one, each >= 32 bytes, no two alike. The values are
 * never part of an error. */
function resolveSecrets(input: ConfigInput): Buffer[] {
  const bytes = (setting: string, v: unknown): Buffer => {
    const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.isBuffer(v) ? v : undefined
    if (!b) throw new ConfigError(setting, 'must be a string')
    if (b.length < 32) throw new ConfigError(setting, 'must be at least 32 bytes')
    return b
  }
  if (input.secrets !== undefined && input.secret !== undefined) {
    throw new ConfigError('secrets', 'and secret are both set; list every secret in secrets')
  }
  if (input.secrets === undefined) {
    if (input.secret === undefined) {
      throw new ConfigError('secret', 'is required (TESSERA_SECRET, or TESSERA_SECRETS)')
    }
    return [bytes('secret', input.secret)]
  }
  const list: unknown = input.secrets
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_SECRETS) {
    throw new ConfigError('secrets', `must be a list of 1 to ${MAX_SECRETS} secrets, newest first`)
  }
  const out = list.map((s, i) => bytes(`secrets[${i}]`, s))
  for (const [i, s] of out.entries()) {
    if (out.findIndex((o) => o.equals(s)) !== i) {
      throw new ConfigError(`secrets[${i}]`, 'is listed twice')
    }
  }
  return out
}

/** Validates and completes a configuration; throws ConfigError naming the first bad setting. */
export function resolveConfig(input: ConfigInput): TesseraConfig {
  if (typeof input.issuer !== 'string') throw new ConfigError('issuer', 'is required')
  let issuerUrl: URL
  try {
    issuerUrl = new URL(input.issuer)
  } catch {
    throw new ConfigError('issuer', 'must be an absolute URL')
  }
  if (issuerUrl.search || issuerUrl.hash)
    throw new ConfigError('issuer', 'must not have a query or fragment')
  const dev = input.dev ?? false
  if (
    issuerUrl.protocol !== 'https:' &&
    !dev &&
    !['localhost', '127.0.0.1', '[::1]'].includes(issuerUrl.hostname)
  ) {
    throw new ConfigError('issuer', 'must use https outside development')
  }
  const issuer = input.issuer.replace(/\/$/, '')

  const secrets = resolveSecrets(input)

  const signingAlg = input.signingAlg ?? 'ES256'
  if (!ALGS.includes(signingAlg))
    throw new ConfigError('signingAlg', `must be one of ${ALGS.join(', ')}`)
  const logLevel = input.logLevel ?? 'info'
  if (!LEVELS.includes(logLevel))
    throw new ConfigError('logLevel', `must be one of ${LEVELS.join(', ')}`)

  const database = input.database ?? { driver: 'sqlite', file: '.tessera/tessera.db' }
  if (database.driver === 'sqlite') {
    if (typeof database.file !== 'string' || database.file === '') {
      throw new ConfigError('database.file', 'must be a path')
    }
    for (const key of Object.keys(database)) {
      if (!['driver', 'file', 'busyTimeoutMs'].includes(key)) {
        throw new ConfigError(`database.${key}`, 'is not a SQLite setting')
      }
    }
    if (database.busyTimeoutMs !== undefined) {
      int('database.busyTimeoutMs', database.busyTimeoutMs, 0, 600_000)
    }
  } else if (database.driver === 'postgres') {
    resolvePostgres(database)
  } else {
    throw new ConfigError('database.driver', 'must be sqlite or postgres')
  }

  const apis = (input.apis ?? []).map((a, i) => resolveApi(a, `apis[${i}]`))
  const audiences = new Set<string>()
  for (const [i, a] of apis.entries()) {
    if (audiences.has(a.audience)) throw new ConfigError(`apis[${i}].audience`, 'is listed twice')
    audiences.add(a.audience)
  }
  const clients = (input.clients ?? []).map((c, i) =>
    resolveClient(c, `clients[${i}]`, audiences, { issuer, dev }),
  )
  const ids = new Set<string>()
  for (const [i, c] of clients.entries()) {
    if (ids.has(c.id)) throw new ConfigError(`clients[${i}].id`, 'is listed twice')
    ids.add(c.id)
  }

  const t = resolveThrottle(input.throttle)

  const trustProxy = strings('trustProxy', input.trustProxy ?? [])
  const host = input.host ?? '127.0.0.1'
  const port = int('port', input.port ?? 4000, 0, 65535)
  const admin = resolveAdmin(input.admin ?? {})
  const listeners = resolveListeners({
    publicPort: port,
    host,
    admin: input.admin ?? {},
    metrics: input.metrics,
    http: input.http,
  })

  return {
    issuer,
    host,
    port,
    secrets,
    database,
    signingAlg,
    jwksMaxAgeSeconds: int('jwksMaxAgeSeconds', input.jwksMaxAgeSeconds ?? 300, 0, 86_400),
    idTokenTtlSeconds: int('idTokenTtlSeconds', input.idTokenTtlSeconds ?? 3600, 60, 86_400),
    codeTtlSeconds: int('codeTtlSeconds', input.codeTtlSeconds ?? 60, 1, 600),
    defaultAccessTokenTtlSeconds: int(
      'defaultAccessTokenTtlSeconds',
      input.defaultAccessTokenTtlSeconds ?? 900,
      10,
      86_400,
    ),
    browserSession: {
      idleSeconds: int(
        'browserSession.idleSeconds',
        input.browserSession?.idleSeconds ?? 7 * 86_400,
        60,
        365 * 86_400,
      ),
      absoluteSeconds: int(
        'browserSession.absoluteSeconds',
        input.browserSession?.absoluteSeconds ?? 30 * 86_400,
        60,
        365 * 86_400,
      ),
    },
    trustProxy,
    throttle: t,
    admin: { ...admin, ...listeners.admin },
    metrics: listeners.metrics,
    http: listeners.http,
    maintenanceIntervalSeconds: int(
      'maintenanceIntervalSeconds',
      input.maintenanceIntervalSeconds ?? 60,
      0,
      86_400,
    ),
    bodyLimit: int('bodyLimit', input.bodyLimit ?? 65_536, 1024, 10 * 1024 * 1024),
    passwordCost: input.passwordCost ?? DEFAULT_PASSWORD_COST,
    dpop: resolveDpop(input.dpop),
    dev,
    logLevel,
    clients,
    apis,
    account: {
      maxAuthAgeSeconds: int(
        'account.maxAuthAgeSeconds',
        input.account?.maxAuthAgeSeconds ?? 300,
        0,
        86_400,
      ),
    },
    webhooks: resolveWebhooks(input.webhooks, dev),
    email: resolveEmail(input.email),
    accounts: resolveAccounts(input.accounts),
    upstream: resolveUpstream(input.upstream),
    branding: resolveBranding(input.branding),
    retention: resolveRetention(input.retention),
  }
}

const YEAR = 365 * 86_400

/** A retention: 0 (keep forever) or from an hour to 10 years. */
function retentionSeconds(setting: string, v: unknown): number {
  if (v === 0) return 0
  return int(setting, v, 3600, 10 * YEAR)
}

function resolveRetention(r: Partial<RetentionConfig> | undefined): RetentionConfig {
  if (r !== undefined && (typeof r !== 'object' || r === null || Array.isArray(r))) {
    throw new ConfigError('retention', 'must be an object')
  }
  const keys: (keyof RetentionConfig)[] = [
    'sessionsSeconds',
    'browserSessionsSeconds',
    'eventsSeconds',
    'batchSize',
  ]
  for (const key of Object.keys(r ?? {})) {
    if (!(keys as string[]).includes(key)) {
      throw new ConfigError(`retention.${key}`, 'is not a retention setting')
    }
  }
  return {
    sessionsSeconds: retentionSeconds(
      'retention.sessionsSeconds',
      r?.sessionsSeconds ?? 30 * 86_400,
    ),
    browserSessionsSeconds: retentionSeconds(
      'retention.browserSessionsSeconds',
      r?.browserSessionsSeconds ?? 30 * 86_400,
    ),
    eventsSeconds: retentionSeconds('retention.eventsSeconds', r?.eventsSeconds ?? 90 * 86_400),
    batchSize: int('retention.batchSize', r?.batchSize ?? 500, 10, 10_000),
  }
}

function resolveDpop(d: Partial<DpopConfig> | undefined): DpopConfig {
  if (d !== undefined && (typeof d !== 'object' || d === null)) {
    throw new ConfigError('dpop', 'must be an object')
  }
  const algorithms = d?.algorithms ?? [...DPOP_ALGORITHMS]
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    throw new ConfigError(
      'dpop.algorithms',
      `must be a non-empty list of ${DPOP_ALGORITHMS.join(', ')}`,
    )
  }
  for (const [i, a] of algorithms.entries()) {
    if (!isDpopAlgorithm(a)) {
      throw new ConfigError(`dpop.algorithms[${i}]`, `must be one of ${DPOP_ALGORITHMS.join(', ')}`)
    }
  }
  const requireNonce = d?.requireNonce ?? false
  if (typeof requireNonce !== 'boolean') {
    throw new ConfigError('dpop.requireNonce', 'must be true or false')
  }
  return {
    algorithms: [...new Set(algorithms)],
    proofWindowSeconds: int('dpop.proofWindowSeconds', d?.proofWindowSeconds ?? 60, 5, 300),
    requireNonce,
  }
}

const ADMIN_KEY_NAME = /^[A-Za-z0-9._-]{1,64}$/
const ADMIN_KEY_HASH = /^sha256\$[A-Za-z0-9_-]{43}$/

function resolveAdmin(a: Partial<AdminSettings>): Omit<AdminSettings, 'port' | 'host'> {
  if (typeof a !== 'object' || a === null || Array.isArray(a)) {
    throw new ConfigError('admin', 'must be an object')
  }
  for (const key of Object.keys(a)) {
    if (
      !['apiKeys', 'consoleIdleSeconds', 'consoleAbsoluteSeconds', 'port', 'host'].includes(key)
    ) {
      throw new ConfigError(`admin.${key}`, 'is not a known setting')
    }
  }
  const list: unknown = a.apiKeys ?? []
  if (!Array.isArray(list)) throw new ConfigError('admin.apiKeys', 'must be a list')
  const names = new Set<string>()
  const apiKeys: AdminKeyConfig[] = list.map((k: unknown, i) => {
    const at = `admin.apiKeys[${i}]`
    const { name, hash } = (k ?? {}) as Partial<AdminKeyConfig>
    if (typeof name !== 'string' || !ADMIN_KEY_NAME.test(name)) {
      throw new ConfigError(`${at}.name`, 'must be 1 to 64 characters of A-Z a-z 0-9 . _ -')
    }
    if (names.has(name)) throw new ConfigError(`${at}.name`, 'is listed twice')
    names.add(name)
    if (typeof hash !== 'string' || !ADMIN_KEY_HASH.test(hash)) {
      throw new ConfigError(
        `${at}.hash`,
        'must be sha256$ and 43 base64url characters (tessera admin-keys hash prints it)',
      )
    }
    return { name, hash }
  })
  const idle = int('admin.consoleIdleSeconds', a.consoleIdleSeconds ?? 1800, 60, 86_400)
  const absolute = int(
    'admin.consoleAbsoluteSeconds',
    a.consoleAbsoluteSeconds ?? 43_200,
    60,
    7 * 86_400,
  )
  return { apiKeys, consoleIdleSeconds: idle, consoleAbsoluteSeconds: absolute }
}

export function resolveApi(a: ApiConfig, at: string): ApiConfig {
  if (typeof a.audience !== 'string' || a.audience.length === 0 || a.audience.length > 255) {
    throw new ConfigError(`${at}.audience`, 'must be a non-empty string')
  }
  try {
    new URL(a.audience)
  } catch {
    throw new ConfigError(`${at}.audience`, 'must be an absolute URI (RFC 8707)')
  }
  if (a.audience.includes('#'))
    throw new ConfigError(`${at}.audience`, 'must not contain a fragment')
  const scopes = strings(`${at}.scopes`, a.scopes ?? [])
  for (const [i, s] of scopes.entries()) {
    if (!SCOPE_TOKEN.test(s))
      throw new ConfigError(`${at}.scopes[${i}]`, 'is not a valid scope token')
    if (s === ACCOUNT_SESSIONS_SCOPE) {
      throw new ConfigError(`${at}.scopes[${i}]`, 'is reserved for the account API')
    }
  }
  return {
    audience: a.audience,
    name: a.name ?? a.audience,
    scopes,
    accessTokenTtlSeconds: int(
      `${at}.accessTokenTtlSeconds`,
      a.accessTokenTtlSeconds ?? 900,
      10,
      86_400,
    ),
    userClaims: strings(`${at}.userClaims`, a.userClaims ?? []),
    ...(bool(`${at}.requireMfa`, a.requireMfa) ? { requireMfa: true } : {}),
  }
}

/** An optional boolean setting; undefined is false. */
function bool(at: string, v: unknown): boolean {
  if (v === undefined) return false
  if (typeof v !== 'boolean') throw new ConfigError(at, 'must be true or false')
  return v
}

export function resolveClient(
  c: ClientConfig,
  at: string,
  audiences: Set<string>,
  server: { issuer: string; dev: boolean },
): ClientConfig {
  if (typeof c.id !== 'string' || !/^[A-Za-z0-9._~-]{1,128}$/.test(c.id)) {
    throw new ConfigError(`${at}.id`, 'must be 1 to 128 characters of A-Z a-z 0-9 . _ ~ -')
  }
  if (c.id.startsWith('usr_')) {
    throw new ConfigError(`${at}.id`, 'must not start with usr_ (reserved for user subjects)')
  }
  if (c.secret !== undefined && (typeof c.secret !== 'string' || c.secret.length < 32)) {
    throw new ConfigError(`${at}.secret`, 'must be at least 32 characters')
  }
  const method = c.tokenEndpointAuthMethod ?? (c.secret ? 'client_secret_basic' : 'none')
  if (!['none', 'client_secret_basic', 'client_secret_post'].includes(method)) {
    throw new ConfigError(
      `${at}.tokenEndpointAuthMethod`,
      'must be none, client_secret_basic or client_secret_post',
    )
  }
  if (method !== 'none' && !c.secret)
    throw new ConfigError(`${at}.secret`, `is required for ${method}`)
  if (method === 'none' && c.secret) {
    throw new ConfigError(`${at}.tokenEndpointAuthMethod`, 'is none but a secret is set')
  }
  const applicationType = c.applicationType ?? 'web'
  if (applicationType !== 'web' && applicationType !== 'native') {
    throw new ConfigError(`${at}.applicationType`, 'must be web or native')
  }
  const grantTypes = c.grantTypes ?? ['authorization_code', 'refresh_token']
  for (const [i, g] of grantTypes.entries()) {
    if (!GRANTS.includes(g))
      throw new ConfigError(`${at}.grantTypes[${i}]`, `must be one of ${GRANTS.join(', ')}`)
  }
  if (grantTypes.includes('client_credentials') && method === 'none') {
    throw new ConfigError(`${at}.grantTypes`, 'client_credentials needs a confidential client')
  }
  const devIssuer = server.dev ? server.issuer : undefined
  const redirectUris = strings(`${at}.redirectUris`, c.redirectUris ?? [])
  for (const [i, u] of redirectUris.entries()) {
    const p = registrationProblem(u, applicationType, devIssuer)
    if (p) throw new ConfigError(`${at}.redirectUris[${i}]`, p)
  }
  if (grantTypes.includes('authorization_code') && redirectUris.length === 0) {
    throw new ConfigError(`${at}.redirectUris`, 'needs at least one URI for authorization_code')
  }
  const postLogoutRedirectUris = strings(
    `${at}.postLogoutRedirectUris`,
    c.postLogoutRedirectUris ?? [],
  )
  for (const [i, u] of postLogoutRedirectUris.entries()) {
    const p = registrationProblem(u, applicationType, devIssuer)
    if (p) throw new ConfigError(`${at}.postLogoutRedirectUris[${i}]`, p)
  }
  const clientAudiences = strings(`${at}.audiences`, c.audiences ?? [])
  for (const [i, a] of clientAudiences.entries()) {
    if (!audiences.has(a))
      throw new ConfigError(`${at}.audiences[${i}]`, `names no configured API (${a})`)
  }
  const resourceServerFor = strings(`${at}.resourceServerFor`, c.resourceServerFor ?? [])
  for (const [i, a] of resourceServerFor.entries()) {
    if (!audiences.has(a))
      throw new ConfigError(`${at}.resourceServerFor[${i}]`, `names no configured API (${a})`)
  }
  if (resourceServerFor.length > 0 && method === 'none') {
    throw new ConfigError(
      `${at}.resourceServerFor`,
      'needs a confidential client (a resource server authenticates to introspect)',
    )
  }
  const scopes = strings(
    `${at}.scopes`,
    c.scopes ?? ['openid', 'profile', 'email', 'offline_access'],
  )
  for (const [i, s] of scopes.entries()) {
    if (!SCOPE_TOKEN.test(s))
      throw new ConfigError(`${at}.scopes[${i}]`, 'is not a valid scope token')
  }
  const idle = int(
    `${at}.sessionIdleSeconds`,
    c.sessionIdleSeconds ?? 14 * 86_400,
    60,
    365 * 86_400,
  )
  const absolute = int(
    `${at}.sessionAbsoluteSeconds`,
    c.sessionAbsoluteSeconds ?? 90 * 86_400,
    60,
    5 * 365 * 86_400,
  )
  return {
    id: c.id,
    name: c.name ?? c.id,
    ...(c.secret !== undefined ? { secret: c.secret } : {}),
    tokenEndpointAuthMethod: method,
    applicationType,
    redirectUris,
    postLogoutRedirectUris,
    grantTypes,
    scopes,
    audiences: clientAudiences,
    ...(resourceServerFor.length > 0 ? { resourceServerFor } : {}),
    // Unset: the defaults of graceWindow (by application type and DPoP binding).
    ...(c.refreshGraceSeconds !== undefined
      ? {
          refreshGraceSeconds: int(
            `${at}.refreshGraceSeconds`,
            c.refreshGraceSeconds,
            GRACE_SECONDS_RANGE.min,
            GRACE_SECONDS_RANGE.max,
          ),
        }
      : {}),
    ...(c.refreshGraceMaxUses !== undefined
      ? {
          refreshGraceMaxUses: int(
            `${at}.refreshGraceMaxUses`,
            c.refreshGraceMaxUses,
            GRACE_MAX_USES_RANGE.min,
            GRACE_MAX_USES_RANGE.max,
          ),
        }
      : {}),
    sessionIdleSeconds: idle,
    sessionAbsoluteSeconds: absolute,
    dpop: resolveClientDpop(c.dpop, at),
    ...(bool(`${at}.requireMfa`, c.requireMfa) ? { requireMfa: true } : {}),
    ...resolveClientSignUp(c.signUp, at),
    ...resolveClientRequireVerifiedEmail(c.requireVerifiedEmail, at),
    ...resolveRefreshDelivery(c, at, { method, applicationType, grantTypes }, server),
  }
}

/** `refreshTokenDelivery` and `webOrigins`: cookie delivery is for public browser apps only. */
function resolveRefreshDelivery(
  c: ClientConfig,
  at: string,
  resolved: { method: string; applicationType: string; grantTypes: GrantType[] },
  server: { issuer: string; dev: boolean },
): Pick<ClientConfig, 'refreshTokenDelivery' | 'webOrigins'> {
  const delivery = c.refreshTokenDelivery ?? 'body'
  if (delivery !== 'body' && delivery !== 'cookie') {
    throw new ConfigError(`${at}.refreshTokenDelivery`, 'must be body or cookie')
  }
  const webOrigins = strings(`${at}.webOrigins`, c.webOrigins ?? [])
  for (const [i, o] of webOrigins.entries()) {
    const p = webOriginProblem(o, server.dev)
    if (p) throw new ConfigError(`${at}.webOrigins[${i}]`, p)
    if (webOrigins.indexOf(o) !== i)
      throw new ConfigError(`${at}.webOrigins[${i}]`, 'is listed twice')
  }
  if (delivery === 'cookie') {
    const why = 'cookie delivery is for public browser apps'
    if (resolved.method !== 'none') {
      throw new ConfigError(`${at}.refreshTokenDelivery`, `${why} (tokenEndpointAuthMethod none)`)
    }
    if (resolved.applicationType !== 'web') {
      throw new ConfigError(`${at}.refreshTokenDelivery`, `${why} (applicationType web)`)
    }
    if (!resolved.grantTypes.includes('refresh_token')) {
      throw new ConfigError(`${at}.refreshTokenDelivery`, 'needs the refresh_token grant')
    }
    if (webOrigins.length === 0) {
      throw new ConfigError(`${at}.webOrigins`, 'must list the app origins for cookie delivery')
    }
    for (const [i, o] of webOrigins.entries()) {
      const p = sameSiteProblem(o, server.issuer)
      if (p) throw new ConfigError(`${at}.webOrigins[${i}]`, p)
    }
  }
  return {
    refreshTokenDelivery: delivery,
    ...(webOrigins.length > 0 ? { webOrigins } : {}),
  }
}

/** Checks the PostgreSQL settings. Messages never quote the URL: it may hold a password. */
function resolvePostgres(db: PostgresConfig): void {
  const url = db.url as unknown
  if (typeof url !== 'string' || !/^postgres(ql)?:\/\//.test(url)) {
    throw new ConfigError('database.url', 'must be a postgres:// URL')
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new ConfigError(
      'database.url',
      'is not a valid URL (check the port and escape % @ : / in the password)',
    )
  }
  if (parsed.hash) throw new ConfigError('database.url', 'must not have a fragment')
  for (const key of Object.keys(db)) {
    if (
      !['driver', 'url', 'poolSize', 'statementTimeoutMs', 'connectTimeoutMs', 'schema'].includes(
        key,
      )
    ) {
      throw new ConfigError(`database.${key}`, 'is not a PostgreSQL setting')
    }
  }
  if (db.poolSize !== undefined) int('database.poolSize', db.poolSize, 1, 1000)
  if (db.statementTimeoutMs !== undefined) {
    int('database.statementTimeoutMs', db.statementTimeoutMs, 100, 600_000)
  }
  if (db.connectTimeoutMs !== undefined) {
    int('database.connectTimeoutMs', db.connectTimeoutMs, 100, 600_000)
  }
  if (
    db.schema !== undefined &&
    (typeof db.schema !== 'string' || !/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(db.schema))
  ) {
    throw new ConfigError(
      'database.schema',
      'must be a plain identifier (letters, digits, _ and $)',
    )
  }
}

function resolveClientDpop(v: unknown, at: string): 'optional' | 'required' {
  if (v === undefined) return 'optional'
  if (v !== 'optional' && v !== 'required') {
    throw new ConfigError(`${at}.dpop`, 'must be optional or required')
  }
  return v
}

const THROTTLE_DEFAULTS: TesseraConfig['throttle'] = {
  signInPerAccountAndIp: { limit: 10, windowSeconds: 900 },
  signInPerAccount: { limit: 100, windowSeconds: 900, delayMs: 2000 },
  signInPerIp: { limit: 100, windowSeconds: 900 },
  clientAuthPerClient: { limit: 300, windowSeconds: 60 },
  invalidGrantPerClient: { limit: 300, windowSeconds: 60 },
  invalidGrantPerIp: { limit: 60, windowSeconds: 60 },
  adminPerIp: { limit: 20, windowSeconds: 900 },
  mfaPerAccount: { limit: 10, windowSeconds: 900 },
  signUpPerIp: { limit: 10, windowSeconds: 3600 },
  accountMailPerIp: { limit: 10, windowSeconds: 900 },
  accountMailPerAddress: { limit: 3, windowSeconds: 900 },
}

/** Each rule replaces its default as a whole: `limit` and `windowSeconds` are required; the
 * slowing rule's `delayMs` defaults to its default's (a file written before the rule slowed instead
 * of refusing keeps starting); unknown rules and unknown keys are errors. */
function resolveThrottle(input: unknown): TesseraConfig['throttle'] {
  if (input === undefined) return THROTTLE_DEFAULTS
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError('throttle', 'must be an object')
  }
  const out: Record<string, unknown> = { ...THROTTLE_DEFAULTS }
  for (const [name, v] of Object.entries(input as Record<string, unknown>)) {
    if (!Object.hasOwn(THROTTLE_DEFAULTS, name)) {
      throw new ConfigError(`throttle.${name}`, 'is not a known setting')
    }
    if (v === undefined) continue
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      throw new ConfigError(`throttle.${name}`, 'must be an object')
    }
    const slowing = name === 'signInPerAccount'
    const known = slowing ? ['limit', 'windowSeconds', 'delayMs'] : ['limit', 'windowSeconds']
    for (const key of Object.keys(v)) {
      if (!known.includes(key)) {
        throw new ConfigError(`throttle.${name}.${key}`, 'is not a known setting')
      }
    }
    const r = v as { limit?: unknown; windowSeconds?: unknown; delayMs?: unknown }
    const rule = {
      limit: int(`throttle.${name}.limit`, r.limit, 1, 1_000_000),
      windowSeconds: int(`throttle.${name}.windowSeconds`, r.windowSeconds, 1, 86_400),
    }
    out[name] = slowing
      ? {
          ...rule,
          delayMs:
            r.delayMs === undefined
              ? THROTTLE_DEFAULTS.signInPerAccount.delayMs
              : int(`throttle.${name}.delayMs`, r.delayMs, 0, 30_000),
        }
      : rule
  }
  return out as TesseraConfig['throttle']
}
