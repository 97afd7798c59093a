import { existsSync, readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { dirname, isAbsolute, resolve } from 'node:path'
import { ADMIN_KEY_SHAPE, hashAdminKey } from '../admin/auth/admin-key-hash.js'
import { ConfigError, type AdminKeyConfig, type TesseraConfig } from './config.js'
import { resolveConfig, type ConfigInput } from './resolve.js'

/** The configuration file read when `--config` is not given, if it exists. */
export const DEFAULT_CONFIG_FILE = 'tessera.json'

/**
 * Environment variables and the setting each one sets. They override the configuration file.
 * `PORT` counts only when `TESSERA_PORT` is not set.
 * `TESSERA_TRUST_PROXY` is a comma-separated list; `DATABASE_URL` selects PostgreSQL and
 * `TESSERA_SQLITE_FILE` SQLite (setting both is an error).
 */
export const ENVIRONMENT: Readonly<Record<string, string>> = {
  TESSERA_ISSUER: 'issuer',
  TESSERA_SECRET: 'secret',
  TESSERA_SECRETS: 'secrets',
  TESSERA_PORT: 'port',
  PORT: 'port',
  TESSERA_HOST: 'host',
  DATABASE_URL: 'database.url',
  TESSERA_SQLITE_FILE: 'database.file',
  TESSERA_LOG_LEVEL: 'logLevel',
  TESSERA_TRUST_PROXY: 'trustProxy',
  TESSERA_SIGNING_ALG: 'signingAlg',
  TESSERA_ADMIN_API_KEY: 'admin.apiKeys',
  TESSERA_ADMIN_PORT: 'admin.port',
  TESSERA_ADMIN_HOST: 'admin.host',
  TESSERA_METRICS_PORT: 'metrics.port',
  TESSERA_METRICS_HOST: 'metrics.host',
  TESSERA_SMTP_PASSWORD: 'email.smtp.pass',
}

/** Top-level keys a configuration file may have: those of ConfigInput (the type keeps the list
 * complete). */
const FILE_KEYS_RECORD: Record<keyof ConfigInput, true> = {
  issuer: true,
  host: true,
  port: true,
  secret: true,
  secrets: true,
  database: true,
  signingAlg: true,
  jwksMaxAgeSeconds: true,
  idTokenTtlSeconds: true,
  codeTtlSeconds: true,
  defaultAccessTokenTtlSeconds: true,
  browserSession: true,
  trustProxy: true,
  throttle: true,
  admin: true,
  metrics: true,
  http: true,
  bodyLimit: true,
  maintenanceIntervalSeconds: true,
  passwordCost: true,
  dpop: true,
  dev: true,
  logLevel: true,
  clients: true,
  apis: true,
  account: true,
  webhooks: true,
  retention: true,
  email: true,
  accounts: true,
  upstream: true,
  branding: true,
}
const FILE_KEYS = new Set<string>(Object.keys(FILE_KEYS_RECORD))

export interface LoadConfigOptions {
  /** A JSON configuration file. Must exist when given; when omitted, `./tessera.json` is read if
   * it exists and otherwise the configuration comes from the environment alone. */
  file?: string | undefined
  /** Default `process.env`. */
  env?: Record<string, string | undefined>
  /** Directory relative paths are resolved against when they do not come from a file. Default
   * `process.cwd()`. */
  cwd?: string
  /** Settings that win over the file and the environment (command-line flags). */
  overrides?: ConfigInput
}

export interface LoadedConfigInput {
  input: ConfigInput
  /** The file read, absolute, or undefined when there was none. */
  file: string | undefined
  /** Settings (top-level or dotted) whose value came from an environment variable, and which. */
  fromEnv: Map<string, string>
}

/**
 * Reads the configuration file (if any) and overlays the environment, without validating the
 * result beyond the shape of each source. Relative SQLite paths in the file are resolved against
 * the file's directory (the database lives next to its configuration); those from the environment
 * against `cwd`.
 */
export function loadConfigInput(opts: LoadConfigOptions = {}): LoadedConfigInput {
  const env = opts.env ?? process.env
  const cwd = opts.cwd ?? process.cwd()
  const fromEnv = new Map<string, string>()

  let file: string | undefined
  if (opts.file !== undefined) {
    file = resolve(cwd, opts.file)
    if (!existsSync(file)) throw new ConfigError('--config', `file ${file} does not exist`)
  } else if (existsSync(resolve(cwd, DEFAULT_CONFIG_FILE))) {
    file = resolve(cwd, DEFAULT_CONFIG_FILE)
  }
  const input: ConfigInput = file ? readConfigFile(file) : {}
  const base = file ? dirname(file) : cwd
  if (input.database?.driver === 'sqlite' && typeof input.database.file === 'string') {
    input.database = { ...input.database, file: absolute(base, input.database.file) }
  }

  const set = (name: string): string | undefined => {
    const v = env[name]
    if (v === undefined || v === '') return undefined
    const setting = ENVIRONMENT[name] as string
    fromEnv.set(setting, name)
    return v
  }

  const issuer = set('TESSERA_ISSUER')
  if (issuer !== undefined) input.issuer = issuer
  // One setting in two forms: either variable replaces the file's `secret` or `secrets`.
  const secret = set('TESSERA_SECRET')
  const secrets = set('TESSERA_SECRETS')
  if (secret !== undefined && secrets !== undefined) {
    throw new ConfigError('TESSERA_SECRET', 'and TESSERA_SECRETS are both set; set one of them')
  }
  if (secret !== undefined) {
    delete input.secrets
    input.secret = secret
  }
  if (secrets !== undefined) {
    delete input.secret
    // Comma-separated, newest first; spaces around the commas are dropped. An empty item is kept,
    // so resolveConfig names it (secrets[i]) instead of the ring silently shrinking.
    input.secrets = secrets.split(',').map((s) => s.trim())
  }
  // TESSERA_PORT, else PORT (the variable hosting platforms set); either overrides the file.
  const portVariable = env.TESSERA_PORT ? 'TESSERA_PORT' : 'PORT'
  const port = set(portVariable)
  if (port !== undefined) {
    if (!/^\d{1,5}$/.test(port)) throw new ConfigError(portVariable, 'must be a port number')
    input.port = Number(port)
  }
  const host = set('TESSERA_HOST')
  if (host !== undefined) input.host = host
  const databaseUrl = set('DATABASE_URL')
  const sqliteFile = set('TESSERA_SQLITE_FILE')
  if (databaseUrl !== undefined && sqliteFile !== undefined) {
    throw new ConfigError('DATABASE_URL', 'and TESSERA_SQLITE_FILE are both set; set one of them')
  }
  if (databaseUrl !== undefined) {
    // The URL replaces the file's; the file's other PostgreSQL settings (pool size ...) stay.
    const fromFile = input.database?.driver === 'postgres' ? input.database : {}
    input.database = { ...fromFile, driver: 'postgres', url: databaseUrl }
  }
  if (sqliteFile !== undefined) {
    // The path replaces the file's; the file's other SQLite settings (busyTimeoutMs) stay.
    const fromFile = input.database?.driver === 'sqlite' ? input.database : {}
    input.database = { ...fromFile, driver: 'sqlite', file: absolute(cwd, sqliteFile) }
  }
  const logLevel = set('TESSERA_LOG_LEVEL')
  if (logLevel !== undefined) input.logLevel = logLevel as TesseraConfig['logLevel']
  const trustProxy = set('TESSERA_TRUST_PROXY')
  if (trustProxy !== undefined) {
    input.trustProxy = trustProxy
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
  }
  const signingAlg = set('TESSERA_SIGNING_ALG')
  if (signingAlg !== undefined) input.signingAlg = signingAlg as TesseraConfig['signingAlg']

  const adminKey = set('TESSERA_ADMIN_API_KEY')
  if (adminKey !== undefined) {
    // Only the hash is kept: the key itself is dropped here and never enters the configuration.
    if (!ADMIN_KEY_SHAPE.test(adminKey)) {
      throw new ConfigError(
        'TESSERA_ADMIN_API_KEY',
        'must be 32 to 512 printable ASCII characters without spaces',
      )
    }
    const admin = input.admin ?? {}
    const fileKeys: unknown = admin.apiKeys ?? []
    input.admin = {
      ...admin,
      apiKeys: [
        ...(Array.isArray(fileKeys) ? (fileKeys as AdminKeyConfig[]) : []),
        { name: 'TESSERA_ADMIN_API_KEY', hash: hashAdminKey(adminKey) },
      ],
    }
  }

  // The internal listeners: a port number and an address each, over the file's.
  const internalPort = (name: string): number | undefined => {
    const v = set(name)
    if (v === undefined) return undefined
    if (!/^\d{1,5}$/.test(v)) throw new ConfigError(name, 'must be a port number')
    return Number(v)
  }
  const adminPort = internalPort('TESSERA_ADMIN_PORT')
  const adminHost = set('TESSERA_ADMIN_HOST')
  if (adminPort !== undefined || adminHost !== undefined) {
    input.admin = {
      ...input.admin,
      ...(adminPort !== undefined ? { port: adminPort } : {}),
      ...(adminHost !== undefined ? { host: adminHost } : {}),
    }
  }
  const metricsPort = internalPort('TESSERA_METRICS_PORT')
  const metricsHost = set('TESSERA_METRICS_HOST')
  if (metricsPort !== undefined || metricsHost !== undefined) {
    input.metrics = {
      ...input.metrics,
      ...(metricsPort !== undefined ? { port: metricsPort } : {}),
      ...(metricsHost !== undefined ? { host: metricsHost } : {}),
    }
  }
  const smtpPassword = set('TESSERA_SMTP_PASSWORD')
  if (smtpPassword !== undefined) {
    const email = input.email ?? {}
    input.email = { ...email, smtp: { ...(email.smtp ?? {}), pass: smtpPassword } }
  }
  if (typeof input.email?.templatesDir === 'string') {
    input.email = { ...input.email, templatesDir: absolute(base, input.email.templatesDir) }
  }
  if (typeof input.branding?.cssFile === 'string') {
    input.branding = { ...input.branding, cssFile: absolute(base, input.branding.cssFile) }
  }

  Object.assign(input, opts.overrides ?? {})
  if (input.database === undefined) {
    input.database = { driver: 'sqlite', file: resolve(base, '.tessera', 'tessera.db') }
  }
  return { input, file, fromEnv }
}

/**
 * The production configuration: file, then environment, then overrides, validated by
 * `resolveConfig`. A ConfigError names the environment variable when the bad value came from one.
 *
 * @example
 * ```ts
 * const config = loadConfig({ file: 'tessera.json' })
 * const server = await createTesseraServer({ config })
 * ```
 */
export function loadConfig(opts: LoadConfigOptions = {}): TesseraConfig {
  const { input, fromEnv } = loadConfigInput(opts)
  try {
    checkTrustProxy(input.trustProxy)
    return resolveConfig(input)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    const name = envNameFor(err.setting, fromEnv)
    if (name === undefined) throw err
    const part = err.setting === ENVIRONMENT[name] ? '' : `${err.setting} `
    throw new ConfigError(name, part + reasonOf(err))
  }
}

/** The reason part of a ConfigError's message, without the `invalid configuration: x:` prefix. */
export function reasonOf(err: ConfigError): string {
  const prefix = `invalid configuration: ${err.setting}: `
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message
}

function envNameFor(setting: string, fromEnv: Map<string, string>): string | undefined {
  const exact = fromEnv.get(setting)
  if (exact !== undefined) return exact
  const top = setting.split(/[.[]/)[0] ?? setting
  return fromEnv.get(top)
}

function checkTrustProxy(list: unknown): void {
  if (!Array.isArray(list)) return
  for (const [i, ip] of list.entries()) {
    if (typeof ip === 'string' && isIP(ip) === 0) {
      throw new ConfigError(`trustProxy[${i}]`, 'must be an IP address')
    }
  }
}

function readConfigFile(file: string): ConfigInput {
  let raw: string
  try {
    raw = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(
      '--config',
      `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    )
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch (err) {
    // V8's message may quote the text around the error, which can be a secret: give the position.
    const at = /position (\d+)/.exec((err as Error).message)?.[1]
    const where = at === undefined ? '' : ` (line ${raw.slice(0, Number(at)).split('\n').length})`
    throw new ConfigError('--config', `${file} is not valid JSON${where}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('--config', `${file} must hold a JSON object`)
  }
  for (const key of Object.keys(parsed)) {
    if (!FILE_KEYS.has(key)) throw new ConfigError(key, 'is not a known setting')
  }
  return parsed
}

function absolute(base: string, path: string): string {
  return path === ':memory:' || isAbsolute(path) ? path : resolve(base, path)
}
