import { TesseraVerifyError } from '../errors.js'
import { requestJson } from '../lib/request-json.js'
import type { Algorithm, ResolvedOptions } from '../verifier/options.js'
import type { IssuerMetadata } from './issuer-metadata.js'
import { importJwk, type VerificationKey } from './verification-key.js'

/** Most keys a JWKS may list; a larger set is refused as a whole. */
const MAX_KEYS = 100

/** The imported keys of one JWKS response, indexed by `kid`. */
class KeyIndex {
  readonly byKid = new Map<string, VerificationKey[]>()
  readonly withoutKid: VerificationKey[] = []
  readonly all: VerificationKey[] = []
  /** Why a listed kid could not be used; reported when a token names it. */
  readonly rejected = new Map<string, string>()

  constructor(jwks: Record<string, unknown>, allowed: ReadonlySet<Algorithm>) {
    const keys = jwks.keys
    if (!Array.isArray(keys)) throw new Error('the JWKS has no keys array')
    if (keys.length > MAX_KEYS) throw new Error(`the JWKS lists more than ${MAX_KEYS} keys`)
    for (const jwk of keys as unknown[]) {
      const imported = importJwk(jwk, allowed)
      if (!Array.isArray(imported)) {
        if (imported.kid !== undefined) this.rejected.set(imported.kid, imported.reason)
        continue
      }
      for (const k of imported) {
        this.all.push(k)
        if (k.kid === undefined) {
          this.withoutKid.push(k)
          continue
        }
        const list = this.byKid.get(k.kid)
        if (list) list.push(k)
        else this.byKid.set(k.kid, [k])
      }
    }
  }
}

type Lookup = VerificationKey | TesseraVerifyError | undefined

/**
 * The issuer's signing keys, fetched from its JWKS and kept in memory.
 *
 * - The first verification loads the set; concurrent callers share one request.
 * - A token whose `kid` is unknown triggers a refetch, at most one per cooldown (30 s by default)
 *   however many such tokens arrive (JWT-18), so garbage `kid`s cannot flood the issuer.
 * - After `maxAge` the set is refreshed in the background while its keys stay in use, so a key
 *   the issuer retired stops verifying and a newly published one is known before it signs
 *   (JWT-17).
 * - A failed fetch keeps the keys already loaded: an outage of the issuer does not stop tokens
 *   signed with known keys from verifying.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-5
 */
export class RemoteKeySet {
  readonly #o: ResolvedOptions
  readonly #metadata: IssuerMetadata
  #index: KeyIndex | undefined
  #loadedAt = -Infinity
  #attemptedAt = -Infinity
  #lastError: unknown
  #inflight: Promise<void> | undefined
  /** JWKS requests made so far (discovery not counted). */
  requests = 0

  constructor(o: ResolvedOptions, metadata: IssuerMetadata) {
    this.#o = o
    this.#metadata = metadata
  }

  /** The key for a token, synchronously when the set is loaded and knows the `kid`. */
  find(kid: string | undefined, alg: Algorithm, now: number): VerificationKey | undefined {
    if (!this.#index) return undefined
    if (now - this.#loadedAt >= this.#o.maxAgeMs && this.#mayFetch(now)) void this.#refresh()
    const found = this.#lookup(kid, alg)
    return found instanceof TesseraVerifyError ? undefined : found
  }

  /** The slow path: loads or refreshes the set when allowed, then looks again. */
  async resolve(kid: string | undefined, alg: Algorithm): Promise<VerificationKey> {
    let found = this.#index ? this.#lookup(kid, alg) : undefined
    // An alg that the kid's key forbids is final; refetching would not change it.
    if (found instanceof TesseraVerifyError && found.code === 'algorithm_not_allowed') throw found
    if (found && !(found instanceof TesseraVerifyError)) return found
    if (this.#inflight) await this.#inflight
    else if (this.#mayFetch(this.#o.clock.now())) await this.#refresh()

    if (!this.#index) {
      throw new TesseraVerifyError(
        'jwks_unavailable',
        "the issuer's signing keys could not be fetched",
        { cause: this.#lastError },
      )
    }
    found = this.#lookup(kid, alg)
    if (found && !(found instanceof TesseraVerifyError)) return found
    // The key may be one the issuer published while we could not reach it.
    if (this.#lastError !== undefined && found?.code !== 'algorithm_not_allowed') {
      throw new TesseraVerifyError(
        'jwks_unavailable',
        "the token's key is not among the cached keys and the JWKS could not be fetched",
        { cause: this.#lastError },
      )
    }
    throw found ?? new TesseraVerifyError('key_not_found', 'no key in the JWKS has this kid')
  }

  #mayFetch(now: number): boolean {
    return !this.#inflight && now - this.#attemptedAt >= this.#o.cooldownMs
  }

  #lookup(kid: string | undefined, alg: Algorithm): Lookup {
    const index = this.#index as KeyIndex
    if (kid === undefined) {
      const candidates = index.all.filter((k) => k.alg === alg)
      if (candidates.length === 1) return candidates[0]
      return new TesseraVerifyError(
        'key_not_found',
        candidates.length === 0
          ? `the token has no kid and no key in the JWKS is for ${alg}`
          : `the token has no kid and several keys in the JWKS are for ${alg}`,
      )
    }
    const keys = index.byKid.get(kid)
    if (!keys) {
      const reason = index.rejected.get(kid)
      if (reason !== undefined) {
        return new TesseraVerifyError(
          'key_not_found',
          `the JWKS key with this kid is unusable: ${reason}`,
        )
      }
      return undefined
    }
    let match: VerificationKey | undefined
    for (const k of keys) {
      if (k.alg !== alg) continue
      if (match) {
        return new TesseraVerifyError('key_not_found', 'the JWKS lists this kid more than once')
      }
      match = k
    }
    if (match) return match
    return new TesseraVerifyError(
      'algorithm_not_allowed',
      `alg ${alg} is not the algorithm of the key with this kid (${keys.map((k) => k.alg).join(', ')})`,
    )
  }

  #refresh(): Promise<void> {
    this.#attemptedAt = this.#o.clock.now()
    const p = this.#load().then(
      (index) => {
        this.#index = index
        this.#loadedAt = this.#o.clock.now()
        this.#lastError = undefined
      },
      (err: unknown) => {
        // Keep the keys we have: an outage must not stop known keys from verifying.
        this.#lastError = err
      },
    )
    const done = p.then(() => {
      this.#inflight = undefined
    })
    this.#inflight = done
    return done
  }

  async #load(): Promise<KeyIndex> {
    const uri = this.#o.jwksUri ?? (await this.#metadata.get()).jwks_uri
    this.requests++
    const jwks = await requestJson(uri, {
      fetch: this.#o.fetch,
      timeoutMs: this.#o.timeoutMs,
      maxBytes: 512 * 1024,
    })
    return new KeyIndex(jwks, this.#o.algorithms)
  }
}
