import { calculateJwkThumbprint, compactVerify, errors, importJWK, type JWK } from 'jose'
import type { ServerContext } from '../../context.js'
import { sha256b64u } from '../../lib/crypto.js'
import { isCanonicalJws } from '../../tokens/canonical-jws.js'
import { InvalidDpopProof, UseDpopNonce } from '../errors.js'
import type { DpopAlgorithm } from './dpop-algorithms.js'
import { normaliseHtu } from '@tessera/verify'

/** A DPoP proof that passed every check. */
export interface DpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key, base64url: the `jkt` tokens are bound to. */
  jkt: string
  alg: DpopAlgorithm
}

/** What a proof is checked against. */
export interface ProofRequest {
  /** Every value of the `DPoP` header the request carried (at least one). */
  values: readonly string[]
  /** The HTTP method of the request. */
  method: string
  /** The endpoint's URL under the issuer (never taken from the Host header). */
  url: string
  /** At a protected resource: the access token presented with the proof (for `ath`) ... */
  accessToken?: string
  /** ... and the `cnf.jkt` it is bound to. */
  boundJkt?: string
  /** 400 at the token endpoint, 401 at a protected resource (RFC 9449 7.1). */
  status: 400 | 401
}

/** Longest proof looked at; an RSA-4096 proof is under 2 KiB. Longer is refused before crypto. */
const MAX_PROOF = 8192
/** Longest `jti` accepted; it is hashed before it is stored. */
const MAX_JTI = 256
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const
/** The members of each key type that make up the public key (RFC 7518 6, RFC 8037 2). */
const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  EC: ['kty', 'crv', 'x', 'y'],
  OKP: ['kty', 'crv', 'x'],
  RSA: ['kty', 'n', 'e'],
}
const BASE64URL = /^[A-Za-z0-9_-]+$/

interface ProofState {
  readonly ctx: ServerContext
  readonly r: ProofRequest
  proof: string
  header: Record<string, unknown>
  claims: Record<string, unknown>
  alg: DpopAlgorithm
  jwk: JWK
  jkt: string
  /** `iat` in milliseconds. */
  iatMs: number
}

type ProofCheck = (s: ProofState) => void | Promise<void>

/** Throws invalid_dpop_proof with the request's status. */
function fail(s: ProofState, description: string): never {
  throw new InvalidDpopProof(description, s.r.status)
}

function decodeSegment(s: ProofState, segment: string, what: string): Record<string, unknown> {
  let v: unknown
  try {
    v = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
  } catch {
    fail(s, `the DPoP proof ${what} is not base64url-encoded JSON`)
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    fail(s, `the DPoP proof ${what} is not a JSON object`)
  }
  return v as Record<string, unknown>
}

/** RFC 9449 4.3 step 1: exactly one DPoP header. */
const checkOneHeader: ProofCheck = (s) => {
  if (s.r.values.length !== 1) fail(s, 'send exactly one DPoP header')
  s.proof = s.r.values[0] as string
}

/** Step 2: one compact JWS (a JWT), within the size limit. */
const checkCompactJws: ProofCheck = (s) => {
  if (s.proof.length > MAX_PROOF) fail(s, `the DPoP proof is longer than ${MAX_PROOF} characters`)
  const parts = s.proof.split('.')
  // An empty signature passes this shape check, so `alg: none` gets its own answer below.
  const [h = '', p = '', sig = ''] = parts
  if (parts.length !== 3 || !BASE64URL.test(h) || !BASE64URL.test(p) || !/^[\w-]*$/.test(sig)) {
    fail(s, 'the DPoP proof is not a compact JWS (three base64url parts)')
  }
  s.header = decodeSegment(s, h, 'header')
  s.claims = decodeSegment(s, p, 'payload')
}

/** Step 4: `typ` is `dpop+jwt`, so no other JWT passes as a proof. */
const checkTyp: ProofCheck = (s) => {
  if (s.header.typ !== 'dpop+jwt') fail(s, 'typ header of the DPoP proof must be dpop+jwt')
}

/** Step 5: an asymmetric algorithm from the allow-list; never `none`, never HMAC. */
const checkAlg: ProofCheck = (s) => {
  const alg = s.header.alg
  const allowed = s.ctx.config.dpop.algorithms
  if (typeof alg !== 'string') fail(s, 'alg header of the DPoP proof is missing')
  if (alg.toLowerCase() === 'none') fail(s, 'alg none is not allowed for DPoP proofs')
  if (/^hs/i.test(alg)) fail(s, 'symmetric algorithms (HS256 ...) are not allowed for DPoP proofs')
  if (!(allowed as readonly string[]).includes(alg)) {
    fail(s, `alg header of the DPoP proof must be one of ${allowed.join(', ')}`)
  }
  // RFC 7515 4.1.11: no extension is understood here.
  if ('crit' in s.header) fail(s, 'crit header of the DPoP proof is not supported')
  s.alg = alg as DpopAlgorithm
}

/** Steps 3 and 7: a `jwk` header holding a public key only. */
const checkJwk: ProofCheck = (s) => {
  const jwk = s.header.jwk
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    fail(s, 'jwk header of the DPoP proof must be a JSON Web Key')
  }
  const j = jwk as Record<string, unknown>
  for (const m of PRIVATE_MEMBERS) {
    if (m in j)
      fail(s, 'jwk header of the DPoP proof must be a public key (it has private members)')
  }
  // Own properties only: `constructor` or `toString` as a kty must not find Object's members.
  const members =
    typeof j.kty === 'string' && Object.hasOwn(PUBLIC_MEMBERS, j.kty)
      ? PUBLIC_MEMBERS[j.kty]
      : undefined
  if (!members) fail(s, 'jwk header of the DPoP proof must be an EC, OKP or RSA key')
  const pub: Record<string, string> = {}
  for (const m of members) {
    const v = j[m]
    if (typeof v !== 'string' || v === '') fail(s, `jwk header of the DPoP proof lacks ${m}`)
    pub[m] = v
  }
  s.jwk = pub
}

/** Step 6: the signature verifies with that key, under the header's algorithm only. */
const checkSignature: ProofCheck = async (s) => {
  let key: Awaited<ReturnType<typeof importJWK>>
  try {
    key = await importJWK(s.jwk, s.alg)
  } catch {
    fail(s, `jwk header of the DPoP proof is not a valid ${s.alg} public key`)
  }
  // JWT-19: one spelling per proof. High S stays allowed: clients' WebCrypto signs either half,
  // and replay is keyed by the key and jti, which no re-spelling changes.
  if (!isCanonicalJws(s.proof, s.alg, s.jwk, { lowS: false })) {
    fail(s, 'the DPoP proof signature is not canonical base64url')
  }
  try {
    await compactVerify(s.proof, key, { algorithms: [s.alg] })
  } catch (err) {
    if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWSInvalid) {
      fail(s, 'the DPoP proof signature is invalid')
    }
    // Key type, curve or size does not fit the algorithm (RSA below 2048 bits, say).
    fail(s, `jwk header of the DPoP proof is not a valid ${s.alg} public key`)
  }
  s.jkt = await calculateJwkThumbprint(s.jwk, 'sha256')
}

/** Step 3: the claims RFC 9449 4.2 requires, with their types. */
const checkClaims: ProofCheck = (s) => {
  const { jti, htm, htu, iat } = s.claims
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI) {
    fail(s, `jti claim of the DPoP proof must be a string of 1 to ${MAX_JTI} characters`)
  }
  if (typeof htm !== 'string') fail(s, 'htm claim of the DPoP proof is missing')
  if (typeof htu !== 'string') fail(s, 'htu claim of the DPoP proof is missing')
  if (typeof iat !== 'number' || !Number.isFinite(iat)) {
    fail(s, 'iat claim of the DPoP proof must be a NumericDate')
  }
  s.iatMs = iat * 1000
}

/** Step 8: `htm` is the request's method. */
const checkHtm: ProofCheck = (s) => {
  if (s.claims.htm !== s.r.method) {
    fail(s, `htm claim of the DPoP proof must be ${s.r.method}`)
  }
}

/** Step 9: `htu` is this endpoint's URL, compared after RFC 3986 normalisation, without query and
 * fragment. The expected URL comes from the issuer, never from the request's Host header. */
const checkHtu: ProofCheck = (s) => {
  const expected = normaliseHtu(s.r.url)
  if (expected === undefined || normaliseHtu(s.claims.htu as string) !== expected) {
    fail(s, `htu claim of the DPoP proof must be ${expected ?? s.r.url}`)
  }
}

/** Step 11: `iat` within the window either side of the server's clock. */
const checkIat: ProofCheck = (s) => {
  const window = s.ctx.config.dpop.proofWindowSeconds
  const now = s.ctx.clock.now()
  if (s.iatMs < now - window * 1000) {
    fail(s, `iat claim of the DPoP proof is more than ${window} s in the past`)
  }
  if (s.iatMs > now + window * 1000) {
    fail(s, `iat claim of the DPoP proof is more than ${window} s in the future`)
  }
}

/** Step 12: with an access token, `ath` is its hash and the proof's key is the one the token is
 * bound to. */
const checkAccessToken: ProofCheck = (s) => {
  if (s.r.accessToken === undefined) return
  const ath = s.claims.ath
  if (typeof ath !== 'string') {
    fail(s, 'ath claim of the DPoP proof is required with an access token')
  }
  if (ath !== sha256b64u(s.r.accessToken)) {
    fail(s, 'ath claim of the DPoP proof does not match the access token')
  }
  if (s.r.boundJkt !== undefined && s.r.boundJkt !== s.jkt) {
    fail(s, 'the DPoP proof key is not the key the access token is bound to')
  }
}

/** Step 10: the server nonce, when the server requires one (`dpop.requireNonce`). */
const checkNonce: ProofCheck = (s) => {
  if (!s.ctx.config.dpop.requireNonce) return
  const nonce = s.claims.nonce
  const current = s.ctx.dpopNonces.current()
  if (typeof nonce !== 'string') {
    throw new UseDpopNonce(
      'a DPoP nonce is required: send the DPoP-Nonce value as nonce',
      current,
      s.r.status,
    )
  }
  if (!s.ctx.dpopNonces.isValid(nonce)) {
    throw new UseDpopNonce(
      'the DPoP nonce is not valid or has expired: send the DPoP-Nonce value as nonce',
      current,
      s.r.status,
    )
  }
}

/** Step 12 of 4.3 and 11.1: a proof is accepted once. The record lives as long as the proof could
 * pass checkIat, in the store, so every instance sees it. Last: nothing is recorded for a proof
 * that fails any other check. */
const checkReplay: ProofCheck = async (s) => {
  const { ctx } = s
  const window = ctx.config.dpop.proofWindowSeconds * 1000
  const key = sha256b64u(`${s.jkt}.${s.claims.jti as string}`)
  const expiresAt = Math.ceil(s.iatMs) + window + 1
  if (!(await ctx.store.useDpopProof(key, ctx.clock.now(), expiresAt))) {
    fail(s, 'the DPoP proof has already been used (jti)')
  }
}

/**
 * The checks of a DPoP proof (RFC 9449 4.3), in order; the first failure answers. Every failure
 * is `invalid_dpop_proof`, except a missing or stale server nonce (`use_dpop_nonce`).
 *
 * | check            | rule                                                              |
 * |------------------|-------------------------------------------------------------------|
 * | checkOneHeader   | exactly one `DPoP` header                                         |
 * | checkCompactJws  | a compact JWS of at most 8192 characters, JSON header and payload |
 * | checkTyp         | `typ` is `dpop+jwt`                                               |
 * | checkAlg         | `alg` in `dpop.algorithms`, never `none` or HMAC; no `crit`        |
 * | checkJwk         | `jwk` is an EC, OKP or RSA public key (no private members)        |
 * | checkSignature   | the signature verifies with that key and `alg`                    |
 * | checkClaims      | `jti` (1-256 characters), `htm`, `htu`, `iat` present and typed   |
 * | checkHtm         | `htm` is the request method                                       |
 * | checkHtu         | `htu` is the endpoint URL (normalised, no query or fragment)      |
 * | checkIat         | `iat` within `dpop.proofWindowSeconds` of the server's clock      |
 * | checkAccessToken | with an access token: `ath` is its hash; the key is its `cnf.jkt`  |
 * | checkNonce       | with `dpop.requireNonce`: a current server nonce                  |
 * | checkReplay      | the `jti` was not accepted before for this key (store-wide)       |
 */
export const PROOF_CHECKS: readonly ProofCheck[] = [
  checkOneHeader,
  checkCompactJws,
  checkTyp,
  checkAlg,
  checkJwk,
  checkSignature,
  checkClaims,
  checkHtm,
  checkHtu,
  checkIat,
  checkAccessToken,
  checkNonce,
  checkReplay,
]

/**
 * Verifies a DPoP proof for one request and records its `jti`. Resolves to the key's thumbprint,
 * or throws {@link InvalidDpopProof} / {@link UseDpopNonce}.
 *
 * @example
 * ```ts
 * const proof = await verifyDpopProof(ctx, {
 *   values: ['eyJ0eXAiOiJkcG9wK2p3dCIs...'],
 *   method: 'POST',
 *   url: ctx.config.issuer + '/oauth/token',
 *   status: 400,
 * })
 * proof.jkt // bind the tokens to this key
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.3
 */
export async function verifyDpopProof(ctx: ServerContext, r: ProofRequest): Promise<DpopProof> {
  const s = { ctx, r } as ProofState
  for (const check of PROOF_CHECKS) await check(s)
  return { jkt: s.jkt, alg: s.alg }
}
