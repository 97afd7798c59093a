import type { ServerContext } from '../../context.js'
import type { ClientRecord } from '../../store/types.js'

/** Seconds of wall-clock time a read of the clients is reused, as the store's client cache. */
const TTL_MS = 5000

/** Whether the client gets its refresh token in a cookie (`refreshTokenDelivery: 'cookie'`). */
export function usesRefreshCookie(client: ClientRecord): boolean {
  return client.refreshTokenDelivery === 'cookie'
}

/**
 * The web origins of every cookie-delivery client: the only origins that get credentialed CORS
 * (`Access-Control-Allow-Origin: <origin>` with `Access-Control-Allow-Credentials: true`) at the
 * token and revocation endpoints. A preflight carries no body, so it cannot name the client; each
 * request is then held to its own client's origins (cookie-request.ts). Read from the store at most
 * every 5 s, so clients registered at run time are picked up.
 */
export class CredentialedOrigins {
  readonly #ctx: ServerContext
  #origins: Set<string> | undefined
  #readAt = 0
  #reading: Promise<Set<string>> | undefined

  constructor(ctx: ServerContext) {
    this.#ctx = ctx
  }

  async has(origin: string): Promise<boolean> {
    if (!this.#origins || performance.now() - this.#readAt >= TTL_MS) {
      this.#reading ??= this.#read().finally(() => (this.#reading = undefined))
      this.#origins = await this.#reading
    }
    return this.#origins.has(origin)
  }

  async #read(): Promise<Set<string>> {
    const out = new Set<string>()
    for (const c of await this.#ctx.store.listClients()) {
      if (usesRefreshCookie(c)) for (const o of c.webOrigins ?? []) out.add(o)
    }
    this.#readAt = performance.now()
    return out
  }
}

const instances = new WeakMap<ServerContext, CredentialedOrigins>()

/** The server's one CredentialedOrigins, shared by the token and revocation endpoints. */
export function credentialedOrigins(ctx: ServerContext): CredentialedOrigins {
  let o = instances.get(ctx)
  if (!o) instances.set(ctx, (o = new CredentialedOrigins(ctx)))
  return o
}
