import {
  constants,
  createPublicKey,
  hash,
  publicDecrypt,
  verify as cryptoVerify,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto'
import type { Algorithm } from '../verifier/options.js'

/** A public key from the JWKS pinned to one algorithm: its own `alg`, `kty` and `crv` decide how
 * a signature is checked, never the token's header. */
export interface VerificationKey {
  readonly kid: string | undefined
  readonly alg: Algorithm
  /** Bytes of a signature by this key: 64 for ES256 and EdDSA, the modulus size for RSA. */
  readonly signatureLength: number
  /** Verifies `signature` over the JWS signing input (`header.payload`, ASCII) with exactly this
   * key's algorithm. */
  verify(signingInput: string, signature: Buffer): boolean
}

/** A JWK that was not imported, and why; reported when a token names its `kid`. */
export interface RejectedKey {
  readonly kid: string | undefined
  readonly reason: string
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const
const MIN_RSA_BITS = 2048
const MAX_RSA_BITS = 16_384

function verifier(
  kid: string | undefined,
  alg: Algorithm,
  key: KeyObject,
  sigLength: number | undefined,
): VerificationKey {
  // ES256 and EdDSA signatures are 64 bytes, RSA ones the modulus size; the length is checked
  // before any crypto.
  const length = alg === 'ES256' || alg === 'EdDSA' ? 64 : (sigLength as number)
  if (alg === 'RS256') return new Rs256Key(kid, key, length)
  // The options object is built once per key (crypto.verify only reads it).
  const digest = alg === 'EdDSA' ? null : 'sha256'
  const options =
    alg === 'ES256'
      ? { key, dsaEncoding: 'ieee-p1363' as const }
      : alg === 'PS256'
        ? {
            key,
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
          }
        : key
  return {
    kid,
    alg,
    signatureLength: length,
    verify(signingInput, signature) {
      if (signature.length !== length) return false
      try {
        return cryptoVerify(digest, bytesOf(signingInput), options, signature)
      } catch {
        return false
      }
    },
  }
}

/** Working memory for the signing input's bytes: verification is synchronous, so one buffer serves
 * every key. */
let inputScratch = Buffer.allocUnsafe(8192)

/** The bytes of an ASCII signing input, as a view of the scratch buffer (grown when too small). */
function bytesOf(signingInput: string): Buffer {
  if (signingInput.length > inputScratch.length) {
    inputScratch = Buffer.allocUnsafe(signingInput.length)
  }
  return inputScratch.subarray(0, inputScratch.write(signingInput, 0, 'latin1'))
}

/** DER of the DigestInfo that precedes a SHA-256 hash in EMSA-PKCS1-v1_5 (RFC 8017 9.2, note 1). */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex')

/**
 * The last message an RS256 key recovered, kept only so that one Buffer made by node:crypto's C++
 * side is always alive. Such a Buffer gets its prototype set after it is made, which gives it a
 * map of its own; when a full collection finds none alive, that map dies, and V8 throws away the
 * optimized code of everything on the verification path that saw it and compiles it all again
 * (bench/verify, which collects between windows, measured 0.87 of the crypto limit without this
 * and 0.92 with it). It holds the padded hash of a signing input, nothing secret.
 */
const keptAlive: { message?: Buffer } = {}

/**
 * RS256 as RFC 8017 8.2.2 writes RSASSA-PKCS1-v1_5-VERIFY: the RSA public operation (RSAVP1,
 * OpenSSL through `publicDecrypt` without padding, which refuses a signature not below the
 * modulus), then the expected encoded message `00 01 FF..FF 00 DigestInfo(SHA-256) hash` compared
 * byte for byte with what came out. Nothing of the recovered message is parsed, so the padding
 * and DigestInfo tricks of Bleichenbacher's 2006 forgery have nothing to work on. The result is
 * the same as `crypto.verify('sha256', ...)` (a test compares them on valid, mutated and forged
 * signatures) but costs about half a microsecond less here: OpenSSL 3's one-shot verify sets up a
 * digest context and fetches the algorithm on every call, and the hash is computed straight from
 * the string.
 */
class Rs256Key implements VerificationKey {
  readonly alg = 'RS256'
  readonly kid: string | undefined
  readonly signatureLength: number
  readonly #options: { key: KeyObject; padding: number }
  /** `00 01 FF..FF 00 DigestInfo`: the encoded message before the hash. */
  readonly #prefix: Buffer

  constructor(kid: string | undefined, key: KeyObject, length: number) {
    this.kid = kid
    this.signatureLength = length
    this.#options = { key, padding: constants.RSA_NO_PADDING }
    const hashAt = length - 32
    const prefix = Buffer.alloc(hashAt, 0xff)
    prefix[0] = 0x00
    prefix[1] = 0x01
    prefix[hashAt - SHA256_DIGEST_INFO.length - 1] = 0x00
    SHA256_DIGEST_INFO.copy(prefix, hashAt - SHA256_DIGEST_INFO.length)
    this.#prefix = prefix
  }

  verify(signingInput: string, signature: Buffer): boolean {
    const length = this.signatureLength
    if (signature.length !== length) return false
    let em: Buffer
    try {
      em = publicDecrypt(this.#options, signature)
    } catch {
      return false
    }
    keptAlive.message = em
    const hashAt = length - 32
    return (
      em.length === length &&
      this.#prefix.compare(em, 0, hashAt) === 0 &&
      em.toString('binary', hashAt) === hash('sha256', signingInput, 'binary')
    )
  }
}

/**
 * Imports one JWK of a JWKS as verification keys, one per algorithm it may verify (an RSA key
 * without `alg` serves RS256 and PS256). Refuses, with the reason: symmetric keys, keys with
 * private members (JWT-16), keys for encryption, curves other than P-256 and Ed25519, RSA below
 * 2048 bits, points not on the curve and keys whose `alg` contradicts their type (JWT-03, JWT-04).
 */
export function importJwk(
  jwk: unknown,
  allowed: ReadonlySet<Algorithm>,
): VerificationKey[] | RejectedKey {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    return { kid: undefined, reason: 'the JWKS entry is not an object' }
  }
  const j = jwk as Record<string, unknown>
  const kid = typeof j.kid === 'string' ? j.kid : undefined
  const reject = (reason: string): RejectedKey => ({ kid, reason })
  if (j.kid !== undefined && kid === undefined) return reject('its kid is not a string')
  if (typeof j.kty !== 'string') return reject('it has no kty')
  if (j.kty === 'oct') return reject('symmetric (oct) keys are never used')
  for (const m of PRIVATE_MEMBERS) {
    if (m in j)
      return reject('it contains private key members; a JWKS must publish public keys only')
  }
  if (j.use !== undefined && j.use !== 'sig') return reject('its use is not sig')
  if (
    j.key_ops !== undefined &&
    (!Array.isArray(j.key_ops) || !(j.key_ops as unknown[]).includes('verify'))
  ) {
    return reject('its key_ops do not include verify')
  }
  const declared = j.alg
  if (declared !== undefined && typeof declared !== 'string')
    return reject('its alg is not a string')

  let algs: Algorithm[]
  let publicJwk: JsonWebKey
  switch (j.kty) {
    case 'EC':
      if (j.crv !== 'P-256') return reject('only the P-256 curve is supported for EC keys')
      if (declared !== undefined && declared !== 'ES256') {
        return reject('its alg does not match its type (a P-256 key is ES256)')
      }
      algs = ['ES256']
      publicJwk = { kty: 'EC', crv: 'P-256', x: j.x as string, y: j.y as string }
      break
    case 'OKP':
      if (j.crv !== 'Ed25519') return reject('only the Ed25519 curve is supported for OKP keys')
      if (declared !== undefined && declared !== 'EdDSA' && declared !== 'Ed25519') {
        return reject('its alg does not match its type (an Ed25519 key is EdDSA)')
      }
      algs = ['EdDSA']
      publicJwk = { kty: 'OKP', crv: 'Ed25519', x: j.x as string }
      break
    case 'RSA':
      if (declared !== undefined && declared !== 'RS256' && declared !== 'PS256') {
        return reject('its alg does not match its type (an RSA key is RS256 or PS256)')
      }
      algs = declared === undefined ? ['RS256', 'PS256'] : [declared]
      publicJwk = { kty: 'RSA', n: j.n as string, e: j.e as string }
      break
    default:
      return reject('its kty is not supported')
  }
  algs = algs.filter((a) => allowed.has(a))
  if (algs.length === 0) return reject('its algorithm is not allowed by this verifier')

  let key: KeyObject
  try {
    // Node validates the encoding, and for EC that the point lies on the curve.
    key = createPublicKey({ key: publicJwk, format: 'jwk' })
  } catch {
    return reject('it is not a valid public key')
  }
  let sigLength: number | undefined
  if (j.kty === 'RSA') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0
    if (bits < MIN_RSA_BITS) return reject(`RSA keys must have at least ${MIN_RSA_BITS} bits`)
    if (bits > MAX_RSA_BITS) return reject(`RSA keys above ${MAX_RSA_BITS} bits are not supported`)
    sigLength = Math.ceil(bits / 8)
  }
  return algs.map((alg) => verifier(kid, alg, key, sigLength))
}
