import { createHash } from 'node:crypto'
import { TesseraVerifyError } from '../errors.js'
import { decodeSignature } from '../jwt/decode-jws.js'
import { importJwk, type VerificationKey } from '../keys/verification-key.js'
import {
  ALGORITHMS,
  type Algorithm,
  type DpopAlgorithm,
  type ResolvedOptions,
} from '../verifier/options.js'
import { jwkThumbprint } from './jwk-thumbprint.js'
import { normaliseHtu } from './htu.js'

/** A request presenting a DPoP-bound access token with the DPoP scheme. */
export interface ProofInput {
  /** Every value of the request's `DPoP` header. */
  values: readonly string[]
  method: string
  /** The absolute URL of the request. */
  url: string
  accessToken: string
  /** The token's `cnf.jkt`. */
  boundJkt: string
}

/** Longest proof looked at; an RSA-4096 proof is under 2 KiB. */
const MAX_PROOF = 8192
const MAX_JTI = 256
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const
const BASE64URL = /^[A-Za-z0-9_-]+$/
const ALL_ALGORITHMS: ReadonlySet<Algorithm> = new Set(ALGORITHMS)

interface ProofState {
  readonly o: ResolvedOptions
  readonly p: ProofInput
  proof: string
  /** `header.payload`, the JWS signing input. */
  input: string
  signature: string
  header: Record<string, unknown>
  claims: Record<string, unknown>
  alg: DpopAlgorithm
  jwk: Record<string, unknown>
  key: VerificationKey
  iatMs: number
}

type ProofCheck = (s: ProofState) => void | Promise<void>

function invalid(description: string): never {
  throw new TesseraVerifyError('dpop_proof_invalid', description)
}

function decodeSegment(segment: string, what: string): Record<string, unknown> {
  let v: unknown
  try {
    v = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
  } catch {
    invalid(`the DPoP proof ${what} is not base64url-encoded JSON`)
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    invalid(`the DPoP proof ${what} is not a JSON object`)
  }
  return v as Record<string, unknown>
}

/** RFC 9449 4.3 step 1: exactly one DPoP header. */
const checkOneHeader: ProofCheck = (s) => {
  if (s.p.values.length !== 1) invalid('send exactly one DPoP header')
  s.proof = s.p.values[0] as string
}

/** Step 2: one compact JWS, within the size limit. An empty signature passes the shape check, so
 * `alg: none` gets its own answer. */
const checkCompactJws: ProofCheck = (s) => {
  if (s.proof.length > MAX_PROOF) invalid(`the DPoP proof is longer than ${MAX_PROOF} characters`)
  const parts = s.proof.split('.')
  const [h = '', p = '', sig = ''] = parts
  if (parts.length !== 3 || !BASE64URL.test(h) || !BASE64URL.test(p) || !/^[\w-]*$/.test(sig)) {
    invalid('the DPoP proof is not a compact JWS (three base64url parts)')
  }
  s.input = `${h}.${p}`
  s.signature = sig
  s.header = decodeSegment(h, 'header')
  s.claims = decodeSegment(p, 'payload')
}

/** Step 4: `typ` is `dpop+jwt`. */
const checkTyp: ProofCheck = (s) => {
  if (s.header.typ !== 'dpop+jwt') invalid('typ header of the DPoP proof must be dpop+jwt')
}

/** Step 5: an asymmetric algorithm from the allow-list; never `none`, never HMAC. No `crit`:
 * this verifier understands no extension. */
const checkAlg: ProofCheck = (s) => {
  const alg = s.header.alg
  const allowed = s.o.dpop.algorithmList
  if (typeof alg !== 'string') invalid('alg header of the DPoP proof is missing')
  if (alg.toLowerCase() === 'none') invalid('alg none is not allowed for DPoP proofs')
  if (/^hs/i.test(alg)) invalid('symmetric algorithms (HS256 ...) are not allowed for DPoP proofs')
  if (!s.o.dpop.algorithms.has(alg as DpopAlgorithm)) {
    invalid(`alg header of the DPoP proof must be one of ${allowed.join(', ')}`)
  }
  if ('crit' in s.header) invalid('crit header of the DPoP proof is not supported')
  s.alg = alg as DpopAlgorithm
}

/** Steps 3 and 7: `jwk` is a public key of a supported type that fits `alg`. */
const checkJwk: ProofCheck = (s) => {
  const jwk = s.header.jwk
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    invalid('jwk header of the DPoP proof must be a JSON Web Key')
  }
  const j = jwk as Record<string, unknown>
  for (const m of PRIVATE_MEMBERS) {
    if (m in j)
      invalid('jwk header of the DPoP proof must be a public key (it has private members)')
  }
  const imported = importJwk(j, ALL_ALGORITHMS)
  if (!Array.isArray(imported)) {
    invalid(`jwk header of the DPoP proof is unusable: ${imported.reason}`)
  }
  // `Ed25519` is EdDSA over Ed25519 (RFC 9864); importJwk names it EdDSA.
  const keyAlg: Algorithm = s.alg === 'Ed25519' ? 'EdDSA' : s.alg
  const key = imported.find((k) => k.alg === keyAlg)
  if (!key) invalid(`jwk header of the DPoP proof is not a ${s.alg} key`)
  s.jwk = j
  s.key = key
}

/** Step 6: the signature verifies with that key, by the algorithm the key allows. */
const checkSignature: ProofCheck = (s) => {
  const sig = Buffer.allocUnsafe(s.key.signatureLength)
  if (!decodeSignature(s.signature, sig) || !s.key.verify(s.input, sig)) {
    invalid('the DPoP proof signature is invalid')
  }
}

/** Step 3: the claims of RFC 9449 4.2, with their types. */
const checkClaims: ProofCheck = (s) => {
  const { jti, htm, htu, iat } = s.claims
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI) {
    invalid(`jti claim of the DPoP proof must be a string of 1 to ${MAX_JTI} characters`)
  }
  if (typeof htm !== 'string') invalid('htm claim of the DPoP proof is missing')
  if (typeof htu !== 'string') invalid('htu claim of the DPoP proof is missing')
  if (typeof iat !== 'number' || !Number.isFinite(iat)) {
    invalid('iat claim of the DPoP proof must be a NumericDate')
  }
  s.iatMs = iat * 1000
}

/** Step 8: `htm` is the request's method. */
const checkHtm: ProofCheck = (s) => {
  if (s.claims.htm !== s.p.method) invalid(`htm claim of the DPoP proof must be ${s.p.method}`)
}

/** Step 9: `htu` is the request's URL (with `dpop.origin` when set), both normalised, without
 * query and fragment. */
const checkHtu: ProofCheck = (s) => {
  let url = s.p.url
  const origin = s.o.dpop.origin
  if (origin !== undefined) {
    const u = new URL(url)
    url = origin + u.pathname
  }
  const expected = normaliseHtu(url)
  if (expected === undefined || normaliseHtu(s.claims.htu as string) !== expected) {
    invalid(`htu claim of the DPoP proof must be ${expected ?? 'the request URL'}`)
  }
}

/** Step 11: `iat` within `dpop.proofWindow` either side of now. */
const checkIat: ProofCheck = (s) => {
  const window = s.o.dpop.windowSec
  const now = s.o.clock.now()
  if (s.iatMs < now - window * 1000) {
    invalid(`iat claim of the DPoP proof is more than ${window} s in the past`)
  }
  if (s.iatMs > now + window * 1000) {
    invalid(`iat claim of the DPoP proof is more than ${window} s in the future`)
  }
}

/** Step 12: `ath` is the hash of the access token presented with the proof. */
const checkAth: ProofCheck = (s) => {
  const ath = s.claims.ath
  if (typeof ath !== 'string') {
    invalid('ath claim of the DPoP proof is required with an access token')
  }
  if (ath !== createHash('sha256').update(s.p.accessToken).digest('base64url')) {
    invalid('ath claim of the DPoP proof does not match the access token')
  }
}

/** Step 12: the proof's key is the one the token is bound to (its `cnf.jkt`). */
const checkBinding: ProofCheck = (s) => {
  if (jwkThumbprint(s.jwk) !== s.p.boundJkt) {
    invalid('the DPoP proof key is not the key the access token is bound to')
  }
}

/** 11.1: a proof is accepted once; remembered as long as it could pass checkIat. Last, so
 * nothing is recorded for a proof that fails another check. */
const checkReplay: ProofCheck = async (s) => {
  const key = createHash('sha256')
    .update(`${s.p.boundJkt}.${s.claims.jti as string}`)
    .digest('base64url')
  const expiresAt = Math.ceil(s.iatMs) + s.o.dpop.windowSec * 1000 + 1
  if (!(await s.o.dpop.replay.use(key, expiresAt))) {
    invalid('the DPoP proof has already been used (jti)')
  }
}

/**
 * The checks of a DPoP proof at a resource server (RFC 9449 4.3 and 7.1), in order. Each failure
 * is `dpop_proof_invalid` with its own message.
 *
 * | check           | rule                                                                 |
 * |-----------------|----------------------------------------------------------------------|
 * | checkOneHeader  | exactly one `DPoP` header                                            |
 * | checkCompactJws | a compact JWS of at most 8192 characters, JSON header and payload    |
 * | checkTyp        | `typ` is `dpop+jwt`                                                  |
 * | checkAlg        | `alg` in `dpop.algorithms` (never `none` or HMAC); no `crit`         |
 * | checkJwk        | `jwk` is a public EC P-256, Ed25519 or RSA (2048+) key fitting `alg` |
 * | checkSignature  | the signature verifies with that key                                 |
 * | checkClaims     | `jti` (1-256 characters), `htm`, `htu`, `iat` present and typed      |
 * | checkHtm        | `htm` is the request method                                          |
 * | checkHtu        | `htu` is the request URL (normalised, no query or fragment)          |
 * | checkIat        | `iat` within `dpop.proofWindow` of now                               |
 * | checkAth        | `ath` is the base64url SHA-256 of the access token                   |
 * | checkBinding    | the key's RFC 7638 thumbprint is the token's `cnf.jkt`               |
 * | checkReplay     | the `jti` was not accepted before for this key (`dpop.replayStore`)  |
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
  checkAth,
  checkBinding,
  checkReplay,
]

/** Runs {@link PROOF_CHECKS}; throws `dpop_proof_invalid` at the first failure. */
export async function checkProof(o: ResolvedOptions, p: ProofInput): Promise<void> {
  const s = { o, p } as ProofState
  for (const check of PROOF_CHECKS) await check(s)
}
