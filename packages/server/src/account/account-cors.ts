import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'

/** How long the set of allowed origins is reused before the clients are read again. */
const TTL_MS = 5000

/**
 * CORS for the account API. Unlike the token endpoint (any origin: it is protected by the
 * client's credentials or PKCE), the account API can end a user's sessions, so only the origins of
 * registered web apps may read its answers: the scheme, host and port of every http(s) redirect
 * URI of every client, and every client's `webOrigins`. An allowed origin is echoed with `Vary: Origin`; any other gets no CORS
 * headers, so the browser keeps the answer from the page. No credentials (cookies) are involved:
 * the API takes bearer tokens only.
 */
export class AccountCors {
  readonly #ctx: ServerContext
  #origins: Set<string> | undefined
  #loadedAt = 0

  constructor(ctx: ServerContext) {
    this.#ctx = ctx
  }

  async #allowed(): Promise<Set<string>> {
    if (this.#origins && performance.now() - this.#loadedAt < TTL_MS) return this.#origins
    const origins = new Set<string>()
    for (const c of await this.#ctx.store.listClients()) {
      for (const o of c.webOrigins ?? []) origins.add(o)
      for (const uri of c.redirectUris) {
        try {
          const u = new URL(uri)
          if (u.protocol === 'https:' || u.protocol === 'http:') origins.add(u.origin)
        } catch {
          // registered URIs are validated; an unparsable one simply allows nothing
        }
      }
    }
    this.#origins = origins
    this.#loadedAt = performance.now()
    return origins
  }

  /** Sets the CORS headers of an actual request (route onRequest hook). */
  async apply(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    reply.header('vary', 'Origin')
    const origin = req.headers.origin
    if (typeof origin !== 'string' || !(await this.#allowed()).has(origin)) return
    reply
      .header('access-control-allow-origin', origin)
      .header('access-control-expose-headers', 'www-authenticate, retry-after, dpop-nonce')
  }

  /** Answers a preflight: 204, with the CORS grant only for an allowed origin. */
  async preflight(req: FastifyRequest, reply: FastifyReply, methods: string): Promise<void> {
    await this.apply(req, reply)
    if (reply.hasHeader('access-control-allow-origin')) {
      reply
        .header('access-control-allow-methods', methods)
        .header('access-control-allow-headers', 'authorization, dpop')
        .header('access-control-max-age', '600')
    }
    await reply.code(204).send()
  }
}
