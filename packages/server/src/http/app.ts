import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify'
import type { ServerContext } from '../context.js'
import {
  InvalidRequest,
  OAuthError,
  PayloadTooLarge,
  ServerError,
  TemporarilyUnavailable,
} from '../oauth/errors.js'
import { storeFailure } from '../store/store-failure.js'
import { parseParams } from './form.js'
import { StoreOutageLog } from './store-outage-log.js'

/** Route modules: each registers the routes of one feature. */
export type RouteModule = (app: FastifyInstance, ctx: ServerContext) => void

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by routes whose errors render as an HTML page instead of JSON. */
    htmlErrors?: boolean
  }
  interface FastifyInstance {
    /** Where requests report the database trouble they were answered 503 for (REL-16). */
    storeOutage: StoreOutageLog
  }
}

/** Headers every response carries. */
function baseHeaders(reply: FastifyReply): void {
  reply.header('x-content-type-options', 'nosniff')
  reply.header('referrer-policy', 'no-referrer')
}

export interface CorsOptions {
  /**
   * Whether `origin` may make credentialed requests (cookies): such an origin gets
   * `Access-Control-Allow-Origin: <origin>` with `Access-Control-Allow-Credentials: true` and
   * may send `credentialedHeaders`; every other origin gets `*` without credentials.
   */
  credentialed?: (origin: string) => Promise<boolean>
  /** Extra request headers allowed to credentialed origins. */
  credentialedHeaders?: string[]
}

const corsPaths = new WeakMap<FastifyInstance, Map<string, CorsOptions>>()
const BASE_ALLOWED_HEADERS = 'authorization, content-type, dpop'

/** Sets the CORS response headers of `origin` on a CORS path; resolves whether it is credentialed. */
async function corsHeaders(reply: FastifyReply, origin: string, o: CorsOptions): Promise<boolean> {
  if (o.credentialed) reply.header('vary', 'Origin')
  if (o.credentialed && (await o.credentialed(origin))) {
    reply.header('access-control-allow-origin', origin)
    reply.header('access-control-allow-credentials', 'true')
    return true
  }
  reply.header('access-control-allow-origin', '*')
  return false
}

/**
 * Allows cross-origin reads of `path` and answers its preflight. Only the endpoints browsers call
 * directly get CORS: token, revocation, userinfo, JWKS and metadata; never /authorize, the sign-in
 * page or logout (RDR-12). Without credentials by default (`*`); `o.credentialed` names the
 * origins that may send cookies (the refresh cookie, src/oauth/refresh-cookie/). The headers are
 * set in onRequest, so error responses are readable too.
 */
export function corsPreflight(
  app: FastifyInstance,
  path: string,
  methods: string,
  o: CorsOptions = {},
): void {
  let paths = corsPaths.get(app)
  if (!paths) corsPaths.set(app, (paths = new Map<string, CorsOptions>()))
  paths.set(path, o)
  app.options(path, async (req, reply) => {
    const origin = req.headers.origin
    const credentialed = typeof origin === 'string' && (await corsHeaders(reply, origin, o))
    if (typeof origin !== 'string') reply.header('access-control-allow-origin', '*')
    const headers = [BASE_ALLOWED_HEADERS, ...(credentialed ? (o.credentialedHeaders ?? []) : [])]
    return reply
      .header('access-control-allow-methods', methods)
      .header('access-control-allow-headers', headers.join(', '))
      .header('access-control-max-age', '600')
      .code(204)
      .send()
  })
}

/** Turns any error into the RFC 6749 5.2 JSON shape; anything unexpected is `server_error`. */
export function toOAuthError(err: unknown): OAuthError {
  if (err instanceof OAuthError) return err
  const fe = err as Partial<FastifyError> & { code?: string }
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return new PayloadTooLarge('request body is too large')
  if (
    fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ||
    fe.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH'
  ) {
    return new InvalidRequest('unsupported content type; use application/x-www-form-urlencoded')
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const e = new InvalidRequest('malformed request')
    return e
  }
  const failure = storeFailure(err)
  if (failure === 'busy') {
    return new TemporarilyUnavailable('the service is busy, retry', 1, 503, 'database contention')
  }
  if (failure === 'unavailable') {
    return new TemporarilyUnavailable(
      'the service is temporarily unavailable',
      5,
      503,
      'database unavailable',
    )
  }
  return new ServerError('an unexpected error occurred')
}

export function sendOAuthError(reply: FastifyReply, err: OAuthError): FastifyReply {
  for (const [k, v] of Object.entries(err.headers)) reply.header(k, v)
  return reply
    .code(err.status)
    .header('cache-control', 'no-store')
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify(err.toJSON()))
}

export function buildApp(ctx: ServerContext, modules: RouteModule[]): FastifyInstance {
  const limits = ctx.config.http
  const app: FastifyInstance = Fastify({
    loggerInstance: ctx.log,
    bodyLimit: ctx.config.bodyLimit,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // We read forwarded headers ourselves and only from configured proxies (TOK-09).
    trustProxy: false,
    // Requests during the drain are answered by the onRequest hook below.
    return503OnClosing: false,
    // 800: an API's audience (up to 255 characters), URL-encoded, is an Admin API path parameter.
    routerOptions: { maxParamLength: 800 },
    // 16 KiB of headers by default: a 64 KiB Authorization header gets 431 before any crypto
    // (JWT-15). Node checks the headers and request timeouts every connectionsCheckingInterval
    // (30 s by default, which let a slowloris hold a socket 60 + 30 s); once a second, so a slow
    // client is cut within a second of its timeout.
    http: {
      maxHeaderSize: limits.maxHeaderSize,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    },
    // Request lines can carry codes and tokens in URLs of other software; we log our own events.
    logController: new LogController({ disableRequestLogging: true }),
  })

  // Connections beyond the cap are closed as they arrive, unanswered (Node's net.Server).
  app.server.maxConnections = limits.maxConnections

  app.removeAllContentTypeParsers()
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_req, body, done) => {
      done(null, parseParams(body as string))
    },
  )
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    // An empty body is no body (HTTP clients often label body-less POSTs application/json).
    if ((body as string).trim() === '') {
      done(null, undefined)
      return
    }
    try {
      done(null, JSON.parse(body as string) as unknown)
    } catch {
      done(new InvalidRequest('request body is not valid JSON'), undefined)
    }
  })

  // Draining after close() (SIGTERM): requests already under way finish, and every response sent
  // from then on closes its connection, so kept-alive clients reconnect (to another instance, or
  // to this one restarted). A request that still arrives on an open connection gets the README's
  // retryable 503 instead of Fastify's own (return503OnClosing), which is not an OAuth error.
  let closing = false
  app.addHook('preClose', (done) => {
    closing = true
    done()
  })
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (closing) reply.header('connection', 'close')
    done(null, payload)
  })

  app.addHook('onRequest', async (req, reply) => {
    baseHeaders(reply)
    const origin = req.headers.origin
    const cors = origin ? corsPaths.get(app)?.get(req.routeOptions.url ?? '') : undefined
    if (origin && cors) {
      await corsHeaders(reply, origin, cors)
      reply.header('access-control-expose-headers', 'www-authenticate, retry-after, dpop-nonce')
    }
    if (closing) {
      return sendOAuthError(
        reply,
        new TemporarilyUnavailable('the server is shutting down, retry', 1, 503, 'draining'),
      )
    }
  })

  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched'
    ctx.metrics.requests.inc({ route, method: req.method, status: String(reply.statusCode) })
    ctx.metrics.duration.observe({ route }, reply.elapsedTime / 1000)
    done()
  })

  const outage = new StoreOutageLog(ctx.log)
  app.decorate('storeOutage', outage)
  app.addHook('onClose', (_app, done) => {
    outage.close()
    done()
  })

  app.setErrorHandler((err, req, reply) => {
    const oe = toOAuthError(err)
    // Database trouble is expected now and then and already answered 503 with Retry-After: one
    // warning per burst, not a stack trace per request.
    const failure = err instanceof OAuthError ? undefined : storeFailure(err)
    if (failure) {
      outage.report(failure, err, req.routeOptions.url)
    } else if (oe.status >= 500) {
      req.log.error({ err, route: req.routeOptions.url }, 'request failed')
    } else if (oe.detail) {
      req.log.info(
        { error: oe.error, detail: oe.detail, route: req.routeOptions.url },
        'request refused',
      )
    }
    if (req.htmlErrors) {
      for (const [k, v] of Object.entries(oe.headers)) reply.header(k, v)
      return reply
        .code(oe.status)
        .header('content-type', 'text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('content-security-policy', "default-src 'none'; frame-ancestors 'none'")
        .header('x-frame-options', 'DENY')
        .send(errorPage(oe))
    }
    return sendOAuthError(reply, oe)
  })

  app.setNotFoundHandler((_req, reply) => {
    reply
      .code(404)
      .header('content-type', 'application/json; charset=utf-8')
      .send(JSON.stringify({ error: 'not_found', error_description: 'no such endpoint' }))
  })

  for (const m of modules) m(app, ctx)
  return app
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

export function errorPage(err: OAuthError): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in error</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>Something went wrong</h1><p>${escapeHtml(err.error)}: ${escapeHtml(err.description)}</p></main></body></html>`
}

export { escapeHtml }
