import { TesseraVerifyError } from '../errors.js'
import { ExpiringLru } from '../cache/expiring-lru.js'
import { requestJson } from '../lib/request-json.js'
import type { IssuerMetadata } from '../keys/issuer-metadata.js'
import type { ResolvedIntrospection, ResolvedOptions } from '../verifier/options.js'

/** RFC 6749 2.3.1: the client ID and secret are form-urlencoded before Basic encoding. */
function basicAuthorization(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+')
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`
}

/**
 * Asks the issuer whether a token is still active (RFC 7662), for endpoints that must see a
 * revocation at once. Runs after the local checks, so only well-signed tokens for this API cost a
 * request. An `active` answer is reused for `cacheTtl` seconds (default 0: never); an inactive one
 * until the token's `exp`, since it never becomes active again.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7662#section-2
 */
export class Introspector {
  readonly #o: ResolvedOptions
  readonly #i: ResolvedIntrospection
  readonly #metadata: IssuerMetadata
  readonly #cache: ExpiringLru<boolean>
  readonly #authorization: string
  /** Introspection requests made so far. */
  requests = 0

  constructor(o: ResolvedOptions, i: ResolvedIntrospection, metadata: IssuerMetadata) {
    this.#o = o
    this.#i = i
    this.#metadata = metadata
    this.#cache = new ExpiringLru(i.maxEntries)
    this.#authorization = basicAuthorization(i.clientId, i.clientSecret)
  }

  /** Resolves when the issuer says the token is active; throws `inactive` or
   * `introspection_failed` otherwise. `exp` is the verified token's expiry, in seconds. */
  async check(token: string, exp: number): Promise<void> {
    const now = this.#o.clock.now()
    const cached = this.#cache.get(token, now)
    if (cached === undefined) {
      const active = await this.#ask(token)
      const until = active ? Math.min(now + this.#i.cacheTtlMs, exp * 1000) : exp * 1000
      if (!active || this.#i.cacheTtlMs > 0) this.#cache.set(token, active, until, now)
      if (active) return
    } else if (cached) {
      return
    }
    throw new TesseraVerifyError('inactive', 'the token is no longer active (revoked or ended)')
  }

  async #ask(token: string): Promise<boolean> {
    let body: Record<string, unknown>
    try {
      const endpoint = this.#i.endpoint ?? (await this.#metadata.get()).introspection_endpoint
      if (endpoint === undefined) {
        throw new Error('the discovery document has no introspection_endpoint')
      }
      this.requests++
      body = await requestJson(endpoint, {
        method: 'POST',
        fetch: this.#o.fetch,
        timeoutMs: this.#o.timeoutMs,
        maxBytes: 64 * 1024,
        headers: {
          authorization: this.#authorization,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      })
    } catch (err) {
      throw new TesseraVerifyError(
        'introspection_failed',
        'the introspection endpoint did not answer with a valid response',
        { cause: err },
      )
    }
    if (typeof body.active !== 'boolean') {
      throw new TesseraVerifyError(
        'introspection_failed',
        'the introspection response has no boolean active member',
      )
    }
    return body.active
  }
}
