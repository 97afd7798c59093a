import type { Jwk } from '../platform-types.js'
import { TesseraClientError } from '../errors.js'
import { requestJson, transientError, type HttpContext } from '../http/http.js'

/** Seconds between two fetches of the JWKS triggered by an unknown `kid` (as jose's cooldown). */
const COOLDOWN_MS = 30_000

/** The server's signing keys, fetched on first use and again (at most every 30 s) for a new kid. */
export class JwksCache {
  readonly #http: HttpContext
  readonly #uri: string
  #keys: Jwk[] | undefined
  #fetchedAt = -Infinity
  #inflight: Promise<Jwk[]> | undefined

  constructor(http: HttpContext, uri: string) {
    this.#http = http
    this.#uri = uri
  }

  /** Keys that may verify a token with this `kid` and `alg`. */
  async candidates(kid: string | undefined, alg: string): Promise<Jwk[]> {
    let keys = this.#keys ?? (await this.#load())
    let found = select(keys, kid, alg)
    if (found.length === 0 && this.#http.clock.now() - this.#fetchedAt >= COOLDOWN_MS) {
      keys = await this.#load()
      found = select(keys, kid, alg)
    }
    return found
  }

  #load(): Promise<Jwk[]> {
    this.#inflight ??= this.#fetch().finally(() => {
      this.#inflight = undefined
    })
    return this.#inflight
  }

  async #fetch(): Promise<Jwk[]> {
    const r = await requestJson(this.#http, this.#uri, {
      method: 'GET',
      headers: { accept: 'application/jwk-set+json, application/json' },
    })
    const t = transientError(r, 'jwks', this.#http.clock.now())
    if (t) throw t
    const keys = r.body?.keys
    if (r.status !== 200 || !Array.isArray(keys)) {
      throw new TesseraClientError('server', `jwks: unexpected response ${r.status}`)
    }
    this.#keys = keys.filter((k): k is Jwk => typeof k === 'object' && k !== null)
    this.#fetchedAt = this.#http.clock.now()
    return this.#keys
  }
}

function ktyFor(alg: string): { kty: string; crv?: string } | undefined {
  if (/^(RS|PS)(256|384|512)$/.test(alg)) return { kty: 'RSA' }
  if (alg === 'ES256') return { kty: 'EC', crv: 'P-256' }
  if (alg === 'ES384') return { kty: 'EC', crv: 'P-384' }
  if (alg === 'EdDSA' || alg === 'Ed25519') return { kty: 'OKP', crv: 'Ed25519' }
  return undefined
}

function select(keys: Jwk[], kid: string | undefined, alg: string): Jwk[] {
  const want = ktyFor(alg)
  if (!want) return []
  return keys.filter((k) => {
    const rec = k as Jwk & { kid?: string; use?: string }
    if (kid !== undefined && rec.kid !== kid) return false
    if (rec.kty !== want.kty) return false
    if (want.crv !== undefined && rec.crv !== want.crv) return false
    if (rec.use !== undefined && rec.use !== 'sig') return false
    if (rec.alg !== undefined && rec.alg !== alg) return false
    return true
  })
}
