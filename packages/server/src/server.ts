import type { FastifyInstance } from 'fastify'
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino'
import { type TesseraConfig } from './config/config.js'
import { apiRecord, clientRecord } from './config/records.js'
import type { ServerContext } from './context.js'
import { buildApp, type RouteModule } from './http/app.js'
import { healthRoutes, metricsRoutes } from './http/health.js'
import { Metrics } from './http/metrics.js'
import { RuntimeMetrics } from './http/runtime-metrics.js'
import { MonotonicClock, type Clock } from './lib/clock.js'
import { cryptoRandom, type Random } from './lib/random.js'
import { discoveryRoutes } from './oauth/discovery.js'
import { DpopNonces } from './oauth/dpop/dpop-nonces.js'
import { EventFactory } from './security/events.js'
import { Throttle } from './security/throttle.js'
import { PostgresStore } from './store/postgres-store.js'
import { SqliteStore } from './store/sqlite-store.js'
import type { Store } from './store/store.js'
import type { WebhookEventType } from './store/types.js'
import { RefreshTokenCodec } from './tokens/refresh-token.js'
import { KeyManager } from './tokens/signing-keys.js'
import { TokenIssuer, type AccessTokenClaimsHook } from './tokens/token-issuer.js'
import { adminRouteModules, routeModules } from './routes.js'
import { SessionFacts } from './sessions/session-facts.js'
import { scheduleMaintenance } from './sessions/maintenance.js'
import { WebhookDispatcher, type Timers } from './webhooks/dispatcher.js'
import { AccountServices } from './accounts/account-services.js'
import type { CaptchaHook } from './accounts/captcha.js'
import { MailTemplates } from './email/mail-templates.js'
import { MemoryTransport, SmtpTransport, type MailTransport } from './email/mail-transport.js'
import { Mailer } from './email/mailer.js'
import { UpstreamClients } from './upstream/upstream-clients.js'

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

/** What an internal listener serves besides `/healthz` and `/readyz`. */
export type InternalRole = 'admin' | 'metrics'

/** A listener of its own for the Admin API and console (`admin.port`) or `/metrics`
 * (`metrics.port`), or both when the two ports are the same. */
export interface InternalListener {
  serves: InternalRole[]
  app: FastifyInstance
  port: number
  host: string
  /** Its base URL once listening. */
  url: string | undefined
}

export interface TesseraServer {
  /** The public listener. */
  app: FastifyInstance
  /** The internal listeners; none by default (everything is served by `app`). */
  internal: InternalListener[]
  ctx: ServerContext
  /** The webhook dispatcher, when webhook endpoints are configured (it is already started). */
  webhooks: WebhookDispatcher | undefined
  /** Starts listening (the public listener on `port` and `host`, the internal ones on theirs);
   * resolves to the public base URL. */
  listen(port?: number, host?: string): Promise<string>
  /** The base URL of the listener serving `role` once listening (the public one by default). */
  urlOf(role: InternalRole): string | undefined
  /** Stops accepting, drains in-flight requests, closes the store. */
  close(): Promise<void>
}

/** Logger that never writes credentials, whatever a caller passes it; to stdout unless
 * `destination` is given. */
export function createLogger(
  level: TesseraConfig['logLevel'],
  destination?: DestinationStream,
): Logger {
  const options: LoggerOptions = {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        'headers.cookie',
        '*.password',
        '*.client_secret',
        '*.clientSecret',
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
  }
  return destination ? pino(options, destination) : pino(options)
}

export async function createTesseraServer(opts: CreateServerOptions): Promise<TesseraServer> {
  const { config } = opts
  const clock = opts.clock ?? new MonotonicClock()
  const random = opts.random ?? cryptoRandom
  const log = opts.logger ?? createLogger(config.logLevel)
  // Read before anything opens: a broken template override is a configuration error.
  const templates = MailTemplates.load(config.email.templatesDir)
  const store = opts.store ?? (await openStore(config))
  store.recordWebhookTypes(subscribedWebhookTypes(config))
  await store.migrate()
  await syncConfig(store, config, clock.now())

  const maxTokenLifetime = Math.max(
    config.idTokenTtlSeconds,
    config.defaultAccessTokenTtlSeconds,
    ...config.apis.map((a) => a.accessTokenTtlSeconds ?? 0),
  )
  const keys = new KeyManager(store, clock, random, config.secrets, {
    alg: config.signingAlg,
    jwksMaxAgeSeconds: config.jwksMaxAgeSeconds,
    maxTokenLifetimeSeconds: maxTokenLifetime,
    onUndecryptable: (kid) =>
      log.error(
        { kid },
        'a signing key in the store opens with none of the configured secrets: it is left out ' +
          '(give every instance the same secrets)',
      ),
  })
  await keys.init()

  const ctx: ServerContext = {
    config,
    store,
    clock,
    random,
    keys,
    refreshTokens: new RefreshTokenCodec(config.secrets),
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
    dpopNonces: new DpopNonces(config.secrets, clock),
    sessionFacts: new SessionFacts(),
    mailer: new Mailer(mailTransport(config), config.email.from, log),
    accounts: new AccountServices(templates, opts.hooks?.captcha),
    upstream: new UpstreamClients(config.upstream),
    log,
  }

  const runtime = new RuntimeMetrics(store.poolStats ? () => store.poolStats!() : undefined)
  ctx.metrics.runtime = runtime

  const internal = internalListeners(config)
  const servedInside = new Set(internal.flatMap((l) => l.serves))
  const app = buildApp(ctx, [
    discoveryRoutes,
    healthRoutes,
    ...(servedInside.has('metrics') ? [] : [metricsRoutes]),
    ...routeModules,
    ...(servedInside.has('admin') ? [] : adminRouteModules),
    ...(opts.routes ?? []),
  ])
  const listeners: InternalListener[] = internal.map((l) => ({
    ...l,
    app: buildApp(ctx, [
      healthRoutes,
      ...(l.serves.includes('admin') ? adminRouteModules : []),
      ...(l.serves.includes('metrics') ? [metricsRoutes] : []),
    ]),
    url: undefined,
  }))
  await app.ready()
  for (const l of listeners) await l.app.ready()
  let publicUrl: string | undefined
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
    internal: listeners,
    ctx,
    webhooks,
    async listen(port = config.port, host = config.host) {
      publicUrl = await app.listen({ port, host })
      for (const l of listeners) l.url = await l.app.listen({ port: l.port, host: l.host })
      return publicUrl
    },
    urlOf(role) {
      return listeners.find((l) => l.serves.includes(role))?.url ?? publicUrl
    },
    async close() {
      stopMaintenance()
      await webhooks?.stop()
      await Promise.all([app.close(), ...listeners.map((l) => l.app.close())])
      runtime.stop()
      await ctx.mailer.close()
      await store.close()
    },
  }
}

/** The internal listeners the configuration asks for: `metrics.port` equal to a fixed
 * `admin.port` shares the admin listener. */
function internalListeners(
  config: TesseraConfig,
): { serves: InternalRole[]; port: number; host: string }[] {
  const { admin, metrics } = config
  const shared = admin.port !== undefined && admin.port !== 0 && metrics.port === admin.port
  const out: { serves: InternalRole[]; port: number; host: string }[] = []
  if (admin.port !== undefined) {
    out.push({
      serves: shared ? ['admin', 'metrics'] : ['admin'],
      port: admin.port,
      host: admin.host,
    })
  }
  if (metrics.port !== undefined && !shared) {
    out.push({ serves: ['metrics'], port: metrics.port, host: metrics.host })
  }
  return out
}

/** The webhook event types some configured endpoint receives: the only ones worth writing to the
 * outbox (with no endpoint, none: nothing would ever send them). */
export function subscribedWebhookTypes(config: TesseraConfig): WebhookEventType[] {
  return [...new Set(config.webhooks.endpoints.flatMap((e) => e.events))]
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
