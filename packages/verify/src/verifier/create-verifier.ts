import { ExpiringLru } from '../cache/expiring-lru.js'
import { checkProof } from '../dpop/check-proof.js'
import { claimError, isVerifyError, TesseraVerifyError } from '../errors.js'
import { dpopValues, presentedToken, searchOf } from '../http/presented-token.js'
import { Introspector } from '../introspection/introspector.js'
import { checkClaims, scopesOf } from '../jwt/check-claims.js'
import type { CheckedHeader } from '../jwt/check-header.js'
import { decodeJsonSegment, decodeSignature, splitJws, type JwsParts } from '../jwt/decode-jws.js'
import { HeaderCache } from '../jwt/header-cache.js'
import { IssuerMetadata } from '../keys/issuer-metadata.js'
import { RemoteKeySet } from '../keys/remote-key-set.js'
import type { VerificationKey } from '../keys/verification-key.js'
import type { Clock } from '../lib/clock.js'
import { resolveOptions, type VerifierOptions } from './options.js'
import type {
  AccessTokenClaims,
  ProtectedRequest,
  TokenVerifier,
  VerifiedToken,
} from './verified-token.js'

/** Counters for metrics and tests. */
export interface VerifierStats {
  /** Tokens in the verified-token cache. */
  cacheEntries: number
  /** Verifications answered from the cache. */
  cacheHits: number
  /** Verifications that ran the full checks (and succeeded or not). */
  fullVerifications: number
  /** Requests made to the JWKS URL. */
  jwksRequests: number
  /** Requests made to the introspection endpoint. */
  introspectionRequests: number
}

export interface Verifier<Extra extends object = object> extends TokenVerifier<Extra> {
  /**
   * Verifies an access token presented as a bearer token (the bare JWT, without `Bearer `).
   * Resolves to its claims, or rejects with a {@link TesseraVerifyError}. A DPoP-bound token
   * (`cnf.jkt`) is refused (`dpop_bound`): it is only good with its proof, through
   * {@link Verifier.verifyRequest}.
   */
  verify(token: string): Promise<VerifiedToken<Extra>>
  /**
   * Verifies the access token of a request, `Bearer` or `DPoP` (RFC 9449 7.1): the token as
   * `verify` does, then its binding. A bound token needs the `DPoP` scheme and a valid proof of
   * its key for this request; an unbound one the `Bearer` scheme (and `dpop.required` unset).
   * Errors carry the scheme to challenge with. The middleware all call this.
   *
   * @example
   * ```ts
   * const auth = await verifier.verifyRequest({
   *   method: req.method,
   *   url: 'https://api.example.com/orders',
   *   authorization: req.headers.authorization,
   *   dpop: req.headers.dpop,
   * })
   * ```
   * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
   */
  verifyRequest(request: ProtectedRequest): Promise<VerifiedToken<Extra>>
  /** The clock of every time check (the `clock` option). */
  readonly clock: Clock
  stats(): VerifierStats
}

/**
 * Builds a verifier for the access tokens (RFC 9068 JWTs) one issuer mints for one API. The
 * options are checked now; keys are fetched on the first verification.
 *
 * A token passes these checks, in order (each failure has its own error code):
 *
 * | step | check                                                              | error code               |
 * |------|--------------------------------------------------------------------|--------------------------|
 * | 1    | a non-empty string of at most `maxTokenSize` bytes, before any work | token_missing, token_too_large |
 * | 2    | verified-token cache hit (until `exp`, never later)                | (answered from memory)   |
 * | 3    | compact JWS of ASCII with a JSON header (no JWE)                   | token_malformed          |
 * | 4    | `alg` allowed: never `none`, never HMAC                            | algorithm_not_allowed    |
 * | 5    | no `crit` extensions                                               | crit_unsupported         |
 * | 6    | `typ` is `at+jwt`                                                  | wrong_type               |
 * | 7    | a JWKS key for the `kid` whose own algorithm is `alg`              | key_not_found, algorithm_not_allowed, jwks_unavailable |
 * | 8    | the signature, strictly base64url, with node:crypto and that key   | signature_invalid        |
 * | 9    | the claims (see `checkClaims`)                                     | claim codes, insufficient_scope |
 * | 10   | introspection, when configured                                     | inactive, introspection_failed |
 *
 * @example
 * ```ts
 * const verifier = createVerifier({
 *   issuer: 'https://auth.example.com',
 *   audience: 'https://api.example.com',
 * })
 * const { claims, scopes } = await verifier.verify(token)
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-4
 * @see https://www.rfc-editor.org/rfc/rfc8725
 */
export function createVerifier<Extra extends object = object>(
  options: VerifierOptions,
): Verifier<Extra> {
  const o = resolveOptions(options)
  const metadata = new IssuerMetadata(o)
  const keys = new RemoteKeySet(o, metadata)
  const introspector = o.introspection ? new Introspector(o, o.introspection, metadata) : undefined
  const cache =
    o.cacheMaxEntries > 0 ? new ExpiringLru<VerifiedToken<Extra>>(o.cacheMaxEntries) : undefined
  const headers = new HeaderCache(o.algorithms)
  // Working memory of the synchronous part of a verification (nothing awaits while it is in use),
  // so the hot path allocates no buffers: the payload's bytes, and one view per signature length
  // (a key set has one or two lengths) over a buffer for the longest, RSA-16384's 2048 bytes.
  const scratch = {
    payload: Buffer.allocUnsafe(o.maxTokenSize),
    signature: Buffer.allocUnsafe(2048),
    views: new Map<number, Buffer>(),
    /** The last verified token, kept only so that objects of the claims' shape are always
     * alive: when a full collection finds none, V8 drops the maps of that shape and with them
     * the optimized code of the verification path, which it then compiles again. */
    last: undefined as VerifiedToken<Extra> | undefined,
  }
  const signatureView = (length: number): Buffer => {
    let view = scratch.views.get(length)
    if (view === undefined) {
      view = scratch.signature.subarray(0, length)
      scratch.views.set(length, view)
    }
    return view
  }
  let cacheHits = 0
  let fullVerifications = 0

  /** Steps 8 and 9: the signature, then the claims; synchronous. */
  function finish(
    token: string,
    parts: JwsParts,
    header: CheckedHeader,
    key: VerificationKey,
    now: number,
  ): VerifiedToken<Extra> {
    const sig = signatureView(key.signatureLength)
    if (
      !decodeSignature(token.slice(parts.dot2 + 1), sig) ||
      !key.verify(token.slice(0, parts.dot2), sig)
    ) {
      throw new TesseraVerifyError('signature_invalid', 'the token signature is invalid')
    }
    // Nothing of the payload is read before the signature holds.
    const claims = decodeJsonSegment(
      token.slice(parts.dot1 + 1, parts.dot2),
      'payload',
      scratch.payload,
    )
    checkClaims(claims, o, Math.floor(now / 1000))
    if (Array.isArray(claims.aud)) Object.freeze(claims.aud)
    if (Array.isArray(claims.amr)) Object.freeze(claims.amr)
    const verified = new Verified(
      Object.freeze(claims) as AccessTokenClaims & Readonly<Extra>,
      header,
    )
    scratch.last = verified
    return verified
  }

  /**
   * The token checks, steps 1 to 10, whatever the scheme. Synchronous whenever it can be (the key
   * is known and no introspection is configured): a promise only when something must be awaited,
   * so a cold verification pays for one promise (the caller's), not two. Throws synchronously.
   */
  function verifyToken(token: string): VerifiedToken<Extra> | Promise<VerifiedToken<Extra>> {
    if (typeof token !== 'string' || token === '') {
      throw new TesseraVerifyError('token_missing', 'no access token was presented')
    }
    if (token.length > o.maxTokenSize) {
      throw new TesseraVerifyError(
        'token_too_large',
        `the token is longer than ${o.maxTokenSize} bytes`,
      )
    }
    const now = o.clock.now()
    let result = cache?.get(token, now)
    if (result) {
      cacheHits++
    } else {
      fullVerifications++
      const parts = splitJws(token)
      const header = headers.get(token, parts.dot1)
      const key = keys.find(header.kid, header.alg, now)
      if (key === undefined) return verifyWithFetchedKey(token, parts, header, now)
      result = finish(token, parts, header, key, now)
      cache?.set(token, result, result.claims.exp * 1000, now)
    }
    return introspector ? introspected(token, result) : result
  }

  /** verifyToken when the key set must be fetched first. */
  async function verifyWithFetchedKey(
    token: string,
    parts: JwsParts,
    header: CheckedHeader,
    now: number,
  ): Promise<VerifiedToken<Extra>> {
    const key = await keys.resolve(header.kid, header.alg)
    const result = finish(token, parts, header, key, now)
    cache?.set(token, result, result.claims.exp * 1000, now)
    return introspector ? introspected(token, result) : result
  }

  async function introspected(
    token: string,
    result: VerifiedToken<Extra>,
  ): Promise<VerifiedToken<Extra>> {
    await introspector?.check(token, result.claims.exp)
    return result
  }

  const dpopAlgs = o.dpop.algorithmList

  /** A token presented without a DPoP proof must not be bound to a key. */
  const asBearer = (result: VerifiedToken<Extra>): VerifiedToken<Extra> => {
    if (boundJkt(result.claims) !== undefined) {
      throw boundAsBearer().withChallenge('DPoP', dpopAlgs)
    }
    return result
  }

  return {
    // Not an async function: a verification that completes synchronously settles one promise
    // instead of three (the async function's, the await's and its reaction), which is a
    // measurable share of a cold RS256 verification.
    verify(token: string): Promise<VerifiedToken<Extra>> {
      try {
        const result = verifyToken(token)
        return result instanceof Promise ? result.then(asBearer) : Promise.resolve(asBearer(result))
      } catch (err) {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what verifyToken threw, unchanged, as an async function would
        return Promise.reject(err)
      }
    },

    // Not an async function either, for the same reason as verify: a Bearer token whose key is
    // known settles one promise. A DPoP proof check and a key fetch are the awaited parts.
    verifyRequest(request: ProtectedRequest): Promise<VerifiedToken<Extra>> {
      let scheme: 'Bearer' | 'DPoP' = 'Bearer'
      const challenged = (err: unknown): never => {
        if (!isVerifyError(err)) throw err
        throw err.withChallenge(err.scheme === 'DPoP' ? 'DPoP' : scheme, dpopAlgs)
      }
      try {
        const presented = presentedToken(request.authorization, searchOf(request.url))
        scheme = presented.scheme
        const checkBinding = (
          result: VerifiedToken<Extra>,
        ): VerifiedToken<Extra> | Promise<VerifiedToken<Extra>> => {
          const jkt = boundJkt(result.claims)
          if (jkt !== undefined && scheme === 'Bearer') {
            scheme = 'DPoP'
            throw boundAsBearer()
          }
          if (jkt === undefined && scheme === 'DPoP') {
            throw new TesseraVerifyError(
              'dpop_not_bound',
              'the access token is not DPoP-bound: send it with the Bearer scheme',
            )
          }
          if (jkt === undefined && o.dpop.required) {
            scheme = 'DPoP'
            throw new TesseraVerifyError(
              'dpop_not_bound',
              'this API accepts DPoP-bound access tokens only',
            )
          }
          if (jkt === undefined) return result
          return checkProof(o, {
            values: dpopValues(request.dpop),
            method: request.method,
            url: request.url,
            accessToken: presented.token,
            boundJkt: jkt,
          }).then(() => result)
        }
        const verified = verifyToken(presented.token)
        const bound =
          verified instanceof Promise ? verified.then(checkBinding) : checkBinding(verified)
        return bound instanceof Promise ? bound.catch(challenged) : Promise.resolve(bound)
      } catch (err) {
        try {
          return challenged(err)
        } catch (thrown) {
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what the checks threw, with its challenge, as an async function would
          return Promise.reject(thrown)
        }
      }
    },

    clock: o.clock,

    stats: () => ({
      cacheEntries: cache?.size ?? 0,
      cacheHits,
      fullVerifications,
      jwksRequests: keys.requests,
      introspectionRequests: introspector?.requests ?? 0,
    }),
  }
}

/**
 * A verified token. `scopes` is split from the claim when first read (many APIs never read it,
 * and the split was a measurable share of the cold path); the object is frozen, the memo is a
 * private field, which freezing does not cover.
 */
class Verified<Extra extends object> implements VerifiedToken<Extra> {
  readonly claims: AccessTokenClaims & Readonly<Extra>
  readonly header: CheckedHeader
  #scopes: readonly string[] | undefined

  constructor(claims: AccessTokenClaims & Readonly<Extra>, header: CheckedHeader) {
    this.claims = claims
    this.header = header
    Object.freeze(this)
  }

  get scopes(): readonly string[] {
    return (this.#scopes ??= Object.freeze(scopesOf(this.claims)))
  }
}

function boundAsBearer(): TesseraVerifyError {
  return new TesseraVerifyError(
    'dpop_bound',
    'the access token is DPoP-bound: send it with the DPoP scheme and a proof',
  )
}

/**
 * The DPoP key thumbprint a token is bound to (RFC 9449 6.1), or undefined for an unbound token.
 * A `cnf` that binds it otherwise (a certificate, RFC 8705) cannot be checked here, so the token
 * is refused rather than taken for a bearer token.
 */
function boundJkt(claims: AccessTokenClaims): string | undefined {
  const cnf: unknown = claims.cnf
  if (cnf === undefined) return undefined
  const jkt = typeof cnf === 'object' && cnf !== null ? (cnf as { jkt?: unknown }).jkt : undefined
  if (typeof jkt !== 'string' || jkt === '') {
    throw claimError('claim_invalid', 'cnf', 'cnf claim is not a DPoP key binding (jkt)')
  }
  return jkt
}
