import type { FastifyInstance } from 'fastify'
import { pino, type Logger } from 'pino'
import { type TesseraConfig } from './config/config.js'
import { apiRecord, clientRecord } from './config/records.js'
import type { ServerContext } from './context.js'
import { buildApp, type RouteModule } from './http/app.js'
import { healthRoutes } from './http/health.js'
import { Metrics } from './http/metrics.js'
import { MonotonicClock, type Clock } from './lib/clock.js'
import { cryptoRandom, type Random } from './lib/random.js'
import { discoveryRoutes } from './oauth/discovery.js'
import { DpopNonces } from './oauth/dpop/dpop-nonces.js'
import { EventFactory } from './security/events.js'
import { Throttle } from './security/throttle.js'
import { PostgresStore } from './store/postgres-store.js'
import { SqliteStore } from './store/sqlite-store.js'
import type { Store } from './store/store.js'
import { RefreshTokenCodec } from './tokens/refresh-token.js'
import { KeyManager } from './tokens/signing-keys.js'
import { TokenIssuer, type AccessTokenClaimsHook } from './tokens/token-issuer.js'
import { routeModules } from './routes.js'
import { SessionFacts } from './sessions/session-facts.js'
import { scheduleMaintenance } from './sessions/maintenance.js'
import { WebhookDispatcher, type Timers } from './webhooks/dispatcher.js'
import { AccountServices } from './accounts/account-services.js'
import type { CaptchaHook } from './accounts/captcha.js'
import { MailTemplates } from './email/mail-templates.js'
import { MemoryTransport, SmtpTransport, type MailTransport } from './email/mail-transport.js'
import { Mailer } from './email/mailer.js'

export interface ServerHooks {
  /** Adds claims to access tokens per API (the role of Auth0 Actions). Reserved claims are kept. */
  accessTokenClaims?: AccessTokenClaimsHook
  /** A CAPTCHA for sign-up and password reset requests (see src/accounts/captcha.ts). */
  captcha?: CaptchaHook
}

export interface CreateServerOptions {
  config: TesseraConfig
  /** Defaults to the store the config names. */
  store?: Store
  clock?: Clock
  random?: Random
  logger?: Logger
  hooks?: ServerHooks
  /** Extra route modules (tests, embedding apps). */
  routes?: RouteModule[]
  /** Timers of the webhook dispatcher's polling loop. Default: the process's. */
  timers?: Timers
}

export interface TesseraServer {
  app: FastifyInstance
  ctx: ServerContext
  /** The webhook dispatcher, when webhook endpoints are configured (it is already started). */
  webhooks: WebhookDispatcher | undefined
  /** Starts listening; resolves to the base URL. */
  listen(port?: number, host?: string): Promise<string>
  /** Stops accepting, drains in-flight requests, closes the store. */
  close(): Promise<void>
}

/** Logger that never writes credentials, whatever a caller passes it. */
export function createLogger(level: TesseraConfig['logLevel']): Logger {
  return pino({
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        'headers.cookie',
        '*.password',
        '*.client_secret',
        '*.refresh_token',
        '*.access_token',
        '*.id_token',
        '*.code',
        '*.code_verifier',
        '*.token',
        'password',
        'secret',
        'token',
      ],
      censor: '[redacted]',
    },
  })
}

export async function createTesseraServer(opts: CreateServerOptions): Promise<TesseraServer> {
  const { config } = opts
  const clock = opts.clock ?? new MonotonicClock()
  const random = opts.random ?? cryptoRandom
  const log = opts.logger ?? createLogger(config.logLevel)
  // Read before anything opens: a broken template override is a configuration error.
  const templates = MailTemplates.load(config.email.templatesDir)
  const store = opts.store ?? (await openStore(config))
  await store.migrate()
  await syncConfig(store, config, clock.now())

  const maxTokenLifetime = Math.max(
    config.idTokenTtlSeconds,
    config.defaultAccessTokenTtlSeconds,
    ...config.apis.map((a) => a.accessTokenTtlSeconds ?? 0),
  )
  const keys = new KeyManager(store, clock, random, config.secret, {
    alg: config.signingAlg,
    jwksMaxAgeSeconds: config.jwksMaxAgeSeconds,
    maxTokenLifetimeSeconds: maxTokenLifetime,
  })
  await keys.init()

  const ctx: ServerContext = {
    config,
    store,
    clock,
    random,
    keys,
    refreshTokens: new RefreshTokenCodec(config.secret),
    tokens: new TokenIssuer({
      issuer: config.issuer,
      keys,
      clock,
      random,
      idTokenTtlSeconds: config.idTokenTtlSeconds,
      accessTokenClaims: opts.hooks?.accessTokenClaims,
    }),
    events: new EventFactory(clock, random),
    throttle: new Throttle(store, clock),
    metrics: new Metrics(),
    dpopNonces: new DpopNonces(config.secret, clock),
    sessionFacts: new SessionFacts(),
    mailer: new Mailer(mailTransport(config), config.email.from, log),
    accounts: new AccountServices(templates, opts.hooks?.captcha),
    log,
  }

  const app = buildApp(ctx, [
    discoveryRoutes,
    healthRoutes,
    ...routeModules,
    ...(opts.routes ?? []),
  ])
  await app.ready()
  const stopMaintenance = scheduleMaintenance(ctx)
  const webhooks =
    config.webhooks.endpoints.length > 0
      ? new WebhookDispatcher({
          store,
          clock,
          random,
          log,
          settings: config.webhooks,
          metrics: ctx.metrics,
          ...(opts.timers ? { timers: opts.timers } : {}),
        })
      : undefined
  webhooks?.start()

  return {
    app,
    ctx,
    webhooks,
    async listen(port = config.port, host = config.host) {
      const addr = await app.listen({ port, host })
      return addr
    },
    async close() {
      stopMaintenance()
      await webhooks?.stop()
      await app.close()
      await ctx.mailer.close()
      await store.close()
    },
  }
}

/** SMTP when configured; in dev mode without it, mail caught in memory (`/dev/mail`); else none. */
function mailTransport(config: TesseraConfig): MailTransport | undefined {
  if (config.email.smtp) return new SmtpTransport(config.email.smtp)
  return config.dev ? new MemoryTransport() : undefined
}

/** The store the configuration names: a SQLite file, or a PostgreSQL pool. */
export function openStore(config: TesseraConfig): Promise<Store> {
  const db = config.database
  if (db.driver === 'sqlite') {
    return Promise.resolve(
      new SqliteStore({
        file: db.file,
        ...(db.busyTimeoutMs !== undefined ? { busyTimeoutMs: db.busyTimeoutMs } : {}),
      }),
    )
  }
  return Promise.resolve(
    new PostgresStore({
      url: db.url,
      ...(db.poolSize !== undefined ? { poolSize: db.poolSize } : {}),
      ...(db.statementTimeoutMs !== undefined ? { statementTimeoutMs: db.statementTimeoutMs } : {}),
      ...(db.connectTimeoutMs !== undefined ? { connectTimeoutMs: db.connectTimeoutMs } : {}),
      ...(db.schema !== undefined ? { schema: db.schema } : {}),
    }),
  )
}

/** Clients and APIs declared in the configuration are written to the store on every start. */
async function syncConfig(store: Store, config: TesseraConfig, now: number): Promise<void> {
  await store.syncConfiguration(
    config.apis.map((a) => apiRecord(a, now)),
    config.clients.map((c) => clientRecord(c, now)),
  )
}
