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
import { parseParams } from './form.js'

/** Route modules: each registers the routes of one feature. */
export type RouteModule = (app: FastifyInstance, ctx: ServerContext) => void

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by routes whose errors render as an HTML page instead of JSON. */
    htmlErrors?: boolean
  }
}

/** Headers every response carries. */
function baseHeaders(reply: FastifyReply): void {
  reply.header('x-content-type-options', 'nosniff')
  reply.header('referrer-policy', 'no-referrer')
}

const corsPaths = new WeakMap<FastifyInstance, Set<string>>()

/**
 * Allows cross-origin reads of `path` (no credentials) and answers its preflight. Only the
 * endpoints browsers call directly get CORS: token, revocation, userinfo, JWKS and metadata; never
 * /authorize, the sign-in page or logout (RDR-12). The header is set in onRequest, so error
 * responses are readable too.
 */
export function corsPreflight(app: FastifyInstance, path: string, methods: string): void {
  let set = corsPaths.get(app)
  if (!set) corsPaths.set(app, (set = new Set()))
  set.add(path)
  app.options(path, (req, reply) => {
    reply
      .header('access-control-allow-origin', '*')
      .header('access-control-allow-methods', methods)
      .header('access-control-allow-headers', 'authorization, content-type, dpop')
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
  if (isStoreUnavailable(err)) {
    return new TemporarilyUnavailable('the service is temporarily unavailable', 5, 503)
  }
  return new ServerError('an unexpected error occurred')
}

/** Connection-level database failures: retryable, answered with 503 + Retry-After. */
function isStoreUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  if (typeof code !== 'string') return false
  // SQLite reports extended codes (SQLITE_BUSY_SNAPSHOT, SQLITE_IOERR_FSYNC, ...).
  if (/^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN)/.test(code)) return true
  // Node socket errors, and PostgreSQL's connection exceptions (class 08) and shutdowns (57P0x).
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(code) ||
    /^08/.test(code) ||
    /^57P0/.test(code)
  )
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
  const app: FastifyInstance = Fastify({
    loggerInstance: ctx.log,
    bodyLimit: ctx.config.bodyLimit,
    // We read forwarded headers ourselves and only from configured proxies (TOK-09).
    trustProxy: false,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 200 },
    // 16 KiB of headers at most: a 64 KiB Authorization header gets 431 before any crypto (JWT-15).
    http: { maxHeaderSize: 16_384 },
    // Request lines can carry codes and tokens in URLs of other software; we log our own events.
    logController: new LogController({ disableRequestLogging: true }),
  })

  app.removeAllContentTypeParsers()
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_req, body, done) => {
      done(null, parseParams(body as string))
    },
  )
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string) as unknown)
    } catch {
      done(new InvalidRequest('request body is not valid JSON'), undefined)
    }
  })

  app.addHook('onRequest', (req, reply, done) => {
    baseHeaders(reply)
    if (req.headers.origin && corsPaths.get(app)?.has(req.routeOptions.url ?? '')) {
      reply.header('access-control-allow-origin', '*')
      reply.header('access-control-expose-headers', 'www-authenticate, retry-after, dpop-nonce')
    }
    done()
  })

  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched'
    ctx.metrics.requests.inc({ route, method: req.method, status: String(reply.statusCode) })
    ctx.metrics.duration.observe({ route }, reply.elapsedTime / 1000)
    done()
  })

  app.setErrorHandler((err, req, reply) => {
    const oe = toOAuthError(err)
    if (oe.status >= 500) {
      req.log.error({ err, route: req.routeOptions.url }, 'request failed')
    } else if (oe.detail) {
      req.log.info(
        { error: oe.error, detail: oe.detail, route: req.routeOptions.url },
        'request refused',
      )
    }
    if (req.htmlErrors) {
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
