import { requestJson } from '../lib/request-json.js'
import { checkUrl, type ResolvedOptions } from '../verifier/options.js'

/** The fields of the issuer's metadata the verifier uses. */
export interface IssuerMetadataDocument {
  issuer: string
  jwks_uri: string
  introspection_endpoint: string | undefined
}

/** Discovery URLs for an issuer: OpenID Connect Discovery 1.0 section 4, then RFC 8414 3. */
export function discoveryUrls(issuer: string): string[] {
  const url = new URL(issuer)
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
  return [
    `${url.origin}${path}/.well-known/openid-configuration`,
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
  ]
}

/**
 * The issuer's discovery document, fetched once and kept. A failed attempt is remembered for the
 * JWKS cooldown, so an outage does not turn every request into a request to the issuer. The
 * document's `issuer` must equal the configured issuer exactly (RFC 8414 3.3, SDK-07).
 *
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-3
 */
export class IssuerMetadata {
  readonly #o: ResolvedOptions
  #doc: IssuerMetadataDocument | undefined
  #inflight: Promise<IssuerMetadataDocument> | undefined
  #failedAt = -Infinity
  #failure: Error = new Error('discovery has not run')

  constructor(o: ResolvedOptions) {
    this.#o = o
  }

  get(): Promise<IssuerMetadataDocument> {
    if (this.#doc) return Promise.resolve(this.#doc)
    if (this.#inflight) return this.#inflight
    if (this.#o.clock.now() - this.#failedAt < this.#o.cooldownMs) {
      return Promise.reject(this.#failure)
    }
    const p = this.#load().then(
      (doc) => {
        this.#doc = doc
        this.#inflight = undefined
        return doc
      },
      (err: unknown) => {
        this.#failedAt = this.#o.clock.now()
        this.#failure = err instanceof Error ? err : new Error(String(err))
        this.#inflight = undefined
        throw err
      },
    )
    this.#inflight = p
    return p
  }

  async #load(): Promise<IssuerMetadataDocument> {
    const errors: string[] = []
    for (const url of discoveryUrls(this.#o.issuer)) {
      let doc: Record<string, unknown>
      try {
        doc = await requestJson(url, {
          fetch: this.#o.fetch,
          timeoutMs: this.#o.timeoutMs,
          maxBytes: 256 * 1024,
        })
      } catch (err) {
        errors.push(err instanceof Error ? err.message : String(err))
        continue
      }
      if (doc.issuer !== this.#o.issuer) {
        throw new Error(
          `the issuer in ${url} is not the configured issuer ${this.#o.issuer} (RFC 8414 3.3)`,
        )
      }
      const insecure = this.#o.allowInsecureRequests
      const jwksUri = checkUrl('jwks_uri', doc.jwks_uri, insecure)
      const intro = doc.introspection_endpoint
      return {
        issuer: this.#o.issuer,
        jwks_uri: jwksUri,
        introspection_endpoint:
          intro === undefined ? undefined : checkUrl('introspection_endpoint', intro, insecure),
      }
    }
    throw new Error(`discovery failed: ${errors.join('; ')}`)
  }
}
