import { TesseraClientError } from '../errors.js'
import { webCrypto, WEB_CRYPTO_ALGS, type CryptoProvider } from '../lib/crypto.js'
import { peekTimes } from '../lib/jwt.js'
import { validateIdToken, type IdTokenClaims } from '../oauth/id-token.js'
import { JwksCache } from '../oauth/jwks.js'
import { discover, validateMetadata, type ServerMetadata } from '../oauth/metadata.js'
import type { TokenResult } from '../oauth/token-endpoint.js'
import type { DiagnosticsHub } from './diagnostics-hub.js'
import type { Environment } from './environment.js'

export type TokenSuccess = Extract<TokenResult, { ok: true }>

/**
 * The authorization server as the client knows it: its metadata (discovered once, again after a
 * failure), its signing keys, and the crypto provider, taken when first needed (so an app can
 * build the client and render its signed-out screen before a provider is installed).
 */
export class ServerConnection {
  readonly #env: Environment
  readonly #events: DiagnosticsHub
  #meta: Promise<ServerMetadata> | undefined
  #jwks: JwksCache | undefined
  #crypto: CryptoProvider | undefined

  constructor(env: Environment, events: DiagnosticsHub) {
    this.#env = env
    this.#events = events
    const m = env.options.metadata
    if (m) {
      this.#meta = Promise.resolve(
        validateMetadata(env.issuer, m as unknown as Record<string, unknown>),
      )
    }
  }

  metadata(): Promise<ServerMetadata> {
    this.#meta ??= discover(this.#env.http, this.#env.issuer).catch((err: unknown) => {
      this.#meta = undefined
      throw err
    })
    return this.#meta
  }

  /** The crypto provider: the `crypto` option, else Web Crypto, checked on first use. */
  crypto(): CryptoProvider {
    this.#crypto ??= this.#env.options.crypto ?? webCrypto()
    return this.#crypto
  }

  async jwks(): Promise<JwksCache> {
    const meta = await this.metadata()
    if (!meta.jwks_uri)
      throw new TesseraClientError('configuration', 'the server publishes no jwks_uri')
    this.#jwks ??= new JwksCache(this.#env.http, meta.jwks_uri)
    return this.#jwks
  }

  /** Validates an ID token from the token endpoint (SDK-03): `nonce` for a sign-in, `sub` for a
   * refresh of a known user. */
  async validateIdToken(
    token: string,
    meta: ServerMetadata,
    x: { nonce: string | undefined; sub?: string },
  ): Promise<IdTokenClaims> {
    const crypto = this.crypto()
    return validateIdToken(token, await this.jwks(), crypto, {
      issuer: this.#env.issuer,
      clientId: this.#env.clientId,
      nonce: x.nonce,
      sub: x.sub,
      nowSeconds: Math.floor(this.#env.time.now() / 1000),
      toleranceSeconds: this.#env.options.clockToleranceSeconds ?? 60,
      algorithms: this.#idTokenAlgs(meta),
    })
  }

  #idTokenAlgs(meta: ServerMetadata): readonly string[] {
    const listed = meta.id_token_signing_alg_values_supported
    const algs = Array.isArray(listed) ? listed.filter((a) => a !== 'none') : ['RS256']
    return algs.filter((a) => WEB_CRYPTO_ALGS.includes(a) || this.#env.options.crypto !== undefined)
  }

  /** Measures the server's clock from a token response: the `iat` of a token, else `Date`. */
  observeClock(r: TokenSuccess): void {
    const time = this.#env.time
    const before = time.offsetMs
    const iat =
      peekTimes(r.tokens.access_token)?.iat ??
      (r.tokens.id_token ? peekTimes(r.tokens.id_token)?.iat : undefined)
    if (iat !== undefined) time.observe(iat, r.sentAt, r.receivedAt)
    else if (r.date !== undefined) time.observe(Math.floor(r.date / 1000), r.sentAt, r.receivedAt)
    if (time.offsetMs !== before)
      this.#events.emit({ type: 'clock_offset', offsetMs: time.offsetMs })
  }
}

export function cookieMismatch(): TesseraClientError {
  return new TesseraClientError(
    'configuration',
    "the server sent the refresh token in the response body: configure refreshTokenDelivery 'cookie' for this client at the server",
  )
}
