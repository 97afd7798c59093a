import { MemoryReplayStore, type DpopReplayStore } from '../dpop/replay-store.js'
import { TesseraVerifyError } from '../errors.js'
import { systemClock, type Clock } from '../lib/clock.js'

/** JWS algorithms a verifier can accept. HMAC (`HS*`) and `none` are never accepted. */
export type Algorithm = 'ES256' | 'EdDSA' | 'RS256' | 'PS256'

export const ALGORITHMS: readonly Algorithm[] = ['ES256', 'EdDSA', 'RS256', 'PS256']

/**
 * JWS algorithms a DPoP proof may use. `Ed25519` is the fully-specified name of EdDSA over
 * Ed25519 (RFC 9864), which current clients (oauth4webapi) write.
 */
export type DpopAlgorithm = Algorithm | 'Ed25519'

export const DPOP_ALGORITHMS: readonly DpopAlgorithm[] = [
  'ES256',
  'EdDSA',
  'Ed25519',
  'RS256',
  'PS256',
]

/** DPoP (RFC 9449) at this API: how proofs of possession are checked. */
export interface DpopOptions {
  /** Algorithms accepted for proofs. Default ES256, EdDSA, Ed25519, RS256, PS256. */
  algorithms?: readonly DpopAlgorithm[]
  /** Seconds a proof's `iat` may lie before or after now. Default 60, from 5 to 300. */
  proofWindow?: number
  /**
   * Accept DPoP-bound tokens only: a bearer token gets 401 `dpop_not_bound`. Default false
   * (bearer tokens keep working; bound tokens always need their proof).
   */
  required?: boolean
  /**
   * The origin clients call this API at (`https://api.example.com`), for the proof's `htu`.
   * Default: the request's own, as the framework reports it (protocol and Host header). Set it
   * when a proxy in front changes the scheme or host and the framework does not know.
   */
  origin?: string
  /** Proofs the in-memory replay cache holds at most. Default 100 000. Unused with
   * `replayStore`. */
  replayCacheSize?: number
  /**
   * Where accepted proofs are remembered, so each is accepted once. Default: in memory, per
   * process. Give a shared store (Redis `SET key 1 NX PXAT expiresAt`) when several instances
   * serve the API, or a proof replayed to another instance within the window passes.
   */
  replayStore?: DpopReplayStore
}

/** A claim requirement: the exact value, or a predicate the value must satisfy. */
export type ClaimCheck = string | number | boolean | ((value: unknown) => boolean)

/** `fetch` as the verifier calls it; inject one to add a proxy, retries or instrumentation. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>

/** Options of the optional introspection mode (RFC 7662). */
export interface IntrospectionOptions {
  /** The resource server's client ID at the issuer (a confidential client). */
  clientId: string
  /** Its client secret, sent with HTTP Basic authentication (RFC 6749 2.3.1). */
  clientSecret: string
  /** Introspection endpoint URL. Default: `introspection_endpoint` from the discovery document. */
  endpoint?: string
  /**
   * Seconds an `active` answer is reused for the same token. Default 0: every verification asks
   * the issuer, so a revocation is seen at once. At most 60. An inactive answer is kept until
   * the token's `exp`, since a revoked token never becomes active again.
   */
  cacheTtl?: number
  /** Entries the introspection cache holds at most. Default 10 000. */
  maxEntries?: number
}

/** Options of {@link createVerifier}. Durations are in seconds. */
export interface VerifierOptions {
  /**
   * The issuer identifier, exactly as it appears in `iss` and in the issuer's discovery document,
   * e.g. `https://auth.example.com`. Must be `https` (or loopback `http`) unless
   * `allowInsecureRequests` is set.
   */
  issuer: string
  /**
   * This API's identifier. A token's `aud` must equal it or be an array that contains it; with a
   * list, any one of them is enough (RFC 9068 4).
   */
  audience: string | readonly string[]
  /**
   * Algorithms accepted. Default all of ES256, EdDSA, RS256, PS256. Each key in the JWKS further
   * pins its own algorithm (by its `alg`, or by its `kty`/`crv`), so a token can never choose
   * how it is checked.
   */
  algorithms?: readonly Algorithm[]
  /** Seconds of clock skew allowed on `exp`, `nbf` and `iat`. Default 5, at most 60. */
  clockTolerance?: number
  /**
   * Seconds a token may live (`exp - iat`). Longer lifetimes are refused as `claim_invalid`,
   * which also catches `exp` written in milliseconds and an `iat` far in the past. Default 86 400.
   */
  maxTokenLifetime?: number
  /** Bytes a token may have; a longer one is refused before any crypto. Default 8192. */
  maxTokenSize?: number
  /**
   * Claims that must be present, on top of the ones RFC 9068 2.2 requires and that are always
   * checked: `iss`, `aud`, `exp`, `iat`, `sub`, `client_id`, `jti`.
   */
  requiredClaims?: readonly string[]
  /**
   * Claim values to require: an exact string, number or boolean, or a predicate. A missing claim
   * is `claim_missing`; one that does not match is `claim_invalid`.
   */
  claims?: Readonly<Record<string, ClaimCheck>>
  /** Scopes every token must carry (space-separated `scope` claim). Default none. */
  requiredScopes?: readonly string[]
  /**
   * The issuer's JWKS URL. Default: `jwks_uri` from the discovery document at
   * `{issuer}/.well-known/openid-configuration`, or else RFC 8414
   * `/.well-known/oauth-authorization-server`.
   */
  jwksUri?: string
  jwks?: {
    /**
     * Seconds after a JWKS request before a token with an unknown `kid` may trigger another one
     * (JWT-18). Default 30.
     */
    cooldown?: number
    /**
     * Seconds after which the key set is refreshed in the background while its keys stay in use.
     * Default 300 (Tessera publishes a new key at least that long before it signs with it).
     */
    maxAge?: number
  }
  /**
   * The verified-token cache: a token presented again is answered from memory until its `exp`
   * (never later). `false` turns it off. Default `{ maxEntries: 10_000 }`.
   */
  cache?: { maxEntries?: number } | false
  /** Also ask the issuer whether each token is still active (RFC 7662). Default off. */
  introspection?: IntrospectionOptions
  /**
   * DPoP proof checking (RFC 9449). Always on: a token with `cnf.jkt` is accepted only with the
   * DPoP scheme and a valid proof, through `verifyRequest` and the middleware. These options tune
   * it; see {@link DpopOptions}.
   */
  dpop?: DpopOptions
  /** Seconds an HTTP request to the issuer (discovery, JWKS, introspection) may take. Default 5. */
  timeout?: number
  /** Default `globalThis.fetch`. */
  fetch?: FetchLike
  /** Default `Date.now`. */
  clock?: Clock
  /**
   * **Insecure.** Allows plain `http` URLs for the issuer, JWKS and introspection endpoint on
   * hosts other than loopback. Anyone on the network path can then substitute keys and forge
   * tokens. Only for a closed test network.
   */
  allowInsecureRequests?: boolean
}

export interface ResolvedIntrospection {
  clientId: string
  clientSecret: string
  endpoint: string | undefined
  cacheTtlMs: number
  maxEntries: number
}

export interface ResolvedDpop {
  algorithms: ReadonlySet<DpopAlgorithm>
  /** As listed, for `algs` in challenges. */
  algorithmList: readonly DpopAlgorithm[]
  windowSec: number
  required: boolean
  origin: string | undefined
  replay: DpopReplayStore
}

export interface ResolvedOptions {
  issuer: string
  audiences: readonly string[]
  algorithms: ReadonlySet<Algorithm>
  toleranceSec: number
  maxLifetimeSec: number
  maxTokenSize: number
  requiredClaims: readonly string[]
  claims: readonly (readonly [string, ClaimCheck])[]
  requiredScopes: readonly string[]
  jwksUri: string | undefined
  cooldownMs: number
  maxAgeMs: number
  cacheMaxEntries: number
  introspection: ResolvedIntrospection | undefined
  dpop: ResolvedDpop
  timeoutMs: number
  fetch: FetchLike
  clock: Clock
  allowInsecureRequests: boolean
}

/** RFC 9068 2.2: claims every access token has. */
export const RFC9068_CLAIMS = ['iss', 'aud', 'exp', 'iat', 'sub', 'client_id', 'jti'] as const

const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/

function bad(option: string, reason: string): TesseraVerifyError {
  return new TesseraVerifyError('invalid_options', `${option}: ${reason}`)
}

function seconds(option: string, v: unknown, def: number, min: number, max: number): number {
  if (v === undefined) return def
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw bad(option, `must be a number of seconds from ${min} to ${max}`)
  }
  return v
}

function count(option: string, v: unknown, def: number, min: number, max: number): number {
  if (v === undefined) return def
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw bad(option, `must be a whole number from ${min} to ${max}`)
  }
  return v
}

function stringList(option: string, v: unknown): string[] {
  if (v === undefined) return []
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '')) {
    throw bad(option, 'must be a list of non-empty strings')
  }
  return v as string[]
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

/** Checks an issuer-side URL: absolute, no fragment, https unless loopback or explicitly allowed. */
export function checkUrl(option: string, v: unknown, allowInsecure: boolean): string {
  if (typeof v !== 'string' || v === '') throw bad(option, 'must be an absolute URL')
  let url: URL
  try {
    url = new URL(v)
  } catch {
    throw bad(option, 'must be an absolute URL')
  }
  if (url.hash) throw bad(option, 'must not have a fragment')
  if (url.username || url.password) throw bad(option, 'must not contain credentials')
  if (url.protocol === 'https:') return v
  if (url.protocol === 'http:' && (LOOPBACK.has(url.hostname) || allowInsecure)) return v
  throw bad(option, 'must use https (http only on loopback, or with allowInsecureRequests)')
}

/** Validates every option when the verifier is built, so a misconfiguration fails at start-up. */
export function resolveOptions(o: VerifierOptions): ResolvedOptions {
  if (typeof o !== 'object' || o === null) throw bad('options', 'must be an object')
  const allowInsecure = o.allowInsecureRequests === true
  const issuer = checkUrl('issuer', o.issuer, allowInsecure)
  if (new URL(issuer).search) throw bad('issuer', 'must not have a query')

  const audiences = typeof o.audience === 'string' ? [o.audience] : o.audience
  if (
    !Array.isArray(audiences) ||
    audiences.length === 0 ||
    audiences.some((a) => typeof a !== 'string' || a === '')
  ) {
    throw bad('audience', 'must be a non-empty string or a non-empty list of them')
  }

  const algs = o.algorithms ?? ALGORITHMS
  if (!Array.isArray(algs) || algs.length === 0) {
    throw bad('algorithms', `must be a non-empty list of ${ALGORITHMS.join(', ')}`)
  }
  for (const a of algs as unknown[]) {
    if (!ALGORITHMS.includes(a as Algorithm)) {
      throw bad('algorithms', `only ${ALGORITHMS.join(', ')} are supported (never none or HS*)`)
    }
  }

  const claims = Object.entries(o.claims ?? {})
  for (const [name, check] of claims) {
    if (!['string', 'number', 'boolean', 'function'].includes(typeof check)) {
      throw bad(`claims.${name}`, 'must be a string, number, boolean or predicate')
    }
  }
  const requiredScopes = stringList('requiredScopes', o.requiredScopes)
  for (const s of requiredScopes) {
    if (!SCOPE_TOKEN.test(s)) throw bad('requiredScopes', 'contains an invalid scope token')
  }

  if (o.cache !== undefined && o.cache !== false && (typeof o.cache !== 'object' || !o.cache)) {
    throw bad('cache', 'must be an object or false')
  }
  const cacheMaxEntries =
    o.cache === false ? 0 : count('cache.maxEntries', o.cache?.maxEntries, 10_000, 1, 10_000_000)

  let introspection: ResolvedIntrospection | undefined
  if (o.introspection !== undefined) {
    const i = o.introspection
    if (typeof i !== 'object' || i === null) throw bad('introspection', 'must be an object')
    if (typeof i.clientId !== 'string' || i.clientId === '') {
      throw bad('introspection.clientId', 'is required')
    }
    if (typeof i.clientSecret !== 'string' || i.clientSecret === '') {
      throw bad('introspection.clientSecret', 'is required')
    }
    introspection = {
      clientId: i.clientId,
      clientSecret: i.clientSecret,
      endpoint:
        i.endpoint === undefined
          ? undefined
          : checkUrl('introspection.endpoint', i.endpoint, allowInsecure),
      cacheTtlMs: seconds('introspection.cacheTtl', i.cacheTtl, 0, 0, 60) * 1000,
      maxEntries: count('introspection.maxEntries', i.maxEntries, 10_000, 1, 10_000_000),
    }
  }

  const fetchImpl = o.fetch ?? globalThis.fetch
  if (typeof fetchImpl !== 'function') throw bad('fetch', 'must be a function')
  const clock = o.clock ?? systemClock
  if (typeof clock?.now !== 'function') throw bad('clock', 'must have a now() method')

  const dpop = resolveDpop(o.dpop, clock)

  return {
    issuer,
    audiences: [...(audiences as readonly string[])],
    algorithms: new Set(algs),
    toleranceSec: seconds('clockTolerance', o.clockTolerance, 5, 0, 60),
    maxLifetimeSec: seconds('maxTokenLifetime', o.maxTokenLifetime, 86_400, 1, 366 * 86_400),
    maxTokenSize: count('maxTokenSize', o.maxTokenSize, 8192, 256, 65_536),
    requiredClaims: stringList('requiredClaims', o.requiredClaims),
    claims,
    requiredScopes,
    jwksUri: o.jwksUri === undefined ? undefined : checkUrl('jwksUri', o.jwksUri, allowInsecure),
    cooldownMs: seconds('jwks.cooldown', o.jwks?.cooldown, 30, 0, 3600) * 1000,
    maxAgeMs: seconds('jwks.maxAge', o.jwks?.maxAge, 300, 1, 86_400) * 1000,
    cacheMaxEntries,
    introspection,
    dpop,
    timeoutMs: seconds('timeout', o.timeout, 5, 0.1, 60) * 1000,
    fetch: fetchImpl,
    clock,
    allowInsecureRequests: allowInsecure,
  }
}

function resolveDpop(d: DpopOptions | undefined, clock: Clock): ResolvedDpop {
  if (d !== undefined && (typeof d !== 'object' || d === null))
    throw bad('dpop', 'must be an object')
  const algs = d?.algorithms ?? DPOP_ALGORITHMS
  if (!Array.isArray(algs) || algs.length === 0) {
    throw bad('dpop.algorithms', `must be a non-empty list of ${DPOP_ALGORITHMS.join(', ')}`)
  }
  for (const a of algs as unknown[]) {
    if (!DPOP_ALGORITHMS.includes(a as DpopAlgorithm)) {
      throw bad('dpop.algorithms', `only ${DPOP_ALGORITHMS.join(', ')} are supported`)
    }
  }
  if (d?.required !== undefined && typeof d.required !== 'boolean') {
    throw bad('dpop.required', 'must be true or false')
  }
  let origin: string | undefined
  if (d?.origin !== undefined) {
    let url: URL | undefined
    try {
      url = new URL(d.origin)
    } catch {
      url = undefined
    }
    // Only compared with the proofs' htu: plain http is fine for an API on an internal network.
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.origin !== d.origin) {
      throw bad(
        'dpop.origin',
        'must be an origin only (scheme, host and port), e.g. https://api.example.com',
      )
    }
    origin = url.origin
  }
  const replayStore = d?.replayStore
  if (replayStore !== undefined && typeof replayStore?.use !== 'function') {
    throw bad('dpop.replayStore', 'must have a use(key, expiresAt) method')
  }
  const size = count('dpop.replayCacheSize', d?.replayCacheSize, 100_000, 1, 10_000_000)
  const list = [...new Set(algs as readonly DpopAlgorithm[])]
  return {
    algorithms: new Set(list),
    algorithmList: list,
    windowSec: seconds('dpop.proofWindow', d?.proofWindow, 60, 5, 300),
    required: d?.required ?? false,
    origin,
    replay: replayStore ?? new MemoryReplayStore(size, clock),
  }
}
