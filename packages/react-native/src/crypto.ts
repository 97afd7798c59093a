import { ed25519 } from '@noble/curves/ed25519.js'
import { p256, p384 } from '@noble/curves/nist.js'
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js'
import { TesseraClientError, type CryptoProvider } from '@tessera/client'

/** A public key as the client passes it (JWK). */
type Jwk = Parameters<CryptoProvider['verifySignature']>[1]

/**
 * The part of `expo-crypto` the provider uses (`import * as ExpoCrypto from 'expo-crypto'`
 * satisfies it; a type test checks that): the platform CSPRNG (`SecRandomCopyBytes` on iOS,
 * `SecureRandom` on Android) and, optionally, its native SHA-256.
 */
export interface ExpoCryptoModule {
  getRandomValues(typedArray: Uint8Array): Uint8Array
}

/** A source of random bytes: fills the array from a CSPRNG and returns it. */
export type RandomSource = (bytes: Uint8Array) => Uint8Array

/** The signature algorithms `hermesCrypto` verifies. */
export const HERMES_CRYPTO_ALGS: readonly string[] = [
  'ES256',
  'ES384',
  'EdDSA',
  'Ed25519',
  'RS256',
  'RS384',
  'RS512',
]

function configuration(message: string): never {
  throw new TesseraClientError('configuration', message)
}

/**
 * Checks a random source before any secret is made from it (APP-14): it must be a function that
 * fills the array it is given (a half polyfill that returns the array untouched, or a new one,
 * is refused). Never falls back to `Math.random`.
 */
function checkedRandom(random: unknown): RandomSource {
  if (typeof random !== 'function') {
    configuration(
      'no secure random source on this platform (Hermes has no crypto.getRandomValues): pass expo-crypto (`hermesCrypto(ExpoCrypto)`) or another CSPRNG',
    )
  }
  const fill = random as RandomSource
  const a = new Uint8Array(32)
  const b = new Uint8Array(32)
  let ra: unknown
  let rb: unknown
  try {
    ra = fill(a)
    rb = fill(b)
  } catch (err) {
    throw new TesseraClientError('configuration', 'the secure random source failed', {
      cause: err,
    })
  }
  const zero = (x: Uint8Array) => x.every((v) => v === 0)
  const same = a.every((v, i) => v === b[i])
  if (ra !== a || rb !== b || zero(a) || zero(b) || same) {
    configuration(
      'the secure random source does not fill the array it is given (a partial getRandomValues polyfill?): refusing to make secrets with it',
    )
  }
  return (bytes) => {
    if (bytes.length <= 65536) return fill(bytes)
    for (let i = 0; i < bytes.length; i += 65536) fill(bytes.subarray(i, i + 65536))
    return bytes
  }
}

const b64urlBytes = (s: unknown, what: string): Uint8Array => {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s)) throw new Error(`invalid JWK ${what}`)
  const bin = s.replace(/-/g, '+').replace(/_/g, '/')
  const pad = bin + '='.repeat((4 - (bin.length % 4)) % 4)
  const table = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  const out: number[] = []
  let buf = 0
  let bits = 0
  for (const ch of pad) {
    if (ch === '=') break
    buf = (buf << 6) | table.indexOf(ch)
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out.push((buf >> bits) & 0xff)
    }
  }
  return Uint8Array.from(out)
}

const toBig = (b: Uint8Array): bigint => {
  let n = 0n
  for (const v of b) n = (n << 8n) | BigInt(v)
  return n
}

function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let r = 1n
  let b = base % mod
  let e = exp
  while (e > 0n) {
    if (e & 1n) r = (r * b) % mod
    e >>= 1n
    b = (b * b) % mod
  }
  return r
}

/** DER prefixes of the DigestInfo of RFC 8017 section 9.2, note 1. */
const DIGEST_INFO: Record<string, { prefix: number[]; hash: (d: Uint8Array) => Uint8Array }> = {
  RS256: {
    prefix: [
      0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
      0x05, 0x00, 0x04, 0x20,
    ],
    hash: sha256,
  },
  RS384: {
    prefix: [
      0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
      0x05, 0x00, 0x04, 0x30,
    ],
    hash: sha384,
  },
  RS512: {
    prefix: [
      0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03,
      0x05, 0x00, 0x04, 0x40,
    ],
    hash: sha512,
  },
}

/**
 * RSASSA-PKCS1-v1_5 verification (RFC 8017 8.2.2): the signature raised to `e` mod `n` must equal
 * the whole expected encoding `00 01 FF..FF 00 DigestInfo`, compared byte for byte (the encoding
 * is built, never parsed, which rules out the signature-forgery bugs of lenient parsers).
 */
function verifyRsa(alg: string, jwk: Jwk, data: Uint8Array, sig: Uint8Array): boolean {
  const info = DIGEST_INFO[alg]!
  if (jwk.kty !== 'RSA') throw new Error(`${alg} needs an RSA key`)
  const nBytes = b64urlBytes(jwk.n, 'n')
  const n = toBig(nBytes)
  const e = toBig(b64urlBytes(jwk.e, 'e'))
  let k = nBytes.length
  for (const v of nBytes) {
    if (v !== 0) break
    k--
  }
  if (k * 8 < 2048) throw new Error('RSA keys under 2048 bits are not accepted')
  if (sig.length !== k) return false
  const s = toBig(sig)
  if (s >= n) return false
  let m = modPow(s, e, n)
  const em = new Uint8Array(k)
  for (let i = k - 1; i >= 0; i--) {
    em[i] = Number(m & 0xffn)
    m >>= 8n
  }
  const t = [...info.prefix, ...info.hash(data)]
  const expected = new Uint8Array(k)
  expected[0] = 0x00
  expected[1] = 0x01
  expected.fill(0xff, 2, k - t.length - 1)
  expected[k - t.length - 1] = 0x00
  expected.set(t, k - t.length)
  let diff = 0
  for (let i = 0; i < k; i++) diff |= em[i]! ^ expected[i]!
  return diff === 0
}

function ecPoint(jwk: Jwk, crv: string, size: number): Uint8Array {
  if (jwk.kty !== 'EC' || jwk.crv !== crv) throw new Error(`expected an EC key on ${crv}`)
  const x = b64urlBytes(jwk.x, 'x')
  const y = b64urlBytes(jwk.y, 'y')
  if (x.length !== size || y.length !== size) throw new Error('invalid EC point')
  const p = new Uint8Array(1 + 2 * size)
  p[0] = 0x04
  p.set(x, 1)
  p.set(y, 1 + size)
  return p
}

/**
 * The `CryptoProvider` of `@tessera/client` for Hermes, which has no Web Crypto: random bytes from
 * the platform's CSPRNG (`expo-crypto`'s `getRandomValues`, or any source you pass), SHA-256 and
 * signature verification from the audited pure-JS `@noble/hashes` and `@noble/curves` (ES256,
 * ES384, EdDSA/Ed25519) plus RSASSA-PKCS1-v1_5 on BigInt (RS256/384/512; Hermes has BigInt). The
 * random source is checked at once: a missing or half-polyfilled one throws a `configuration`
 * error here, at start, never later (APP-14).
 *
 * @example
 * import * as ExpoCrypto from 'expo-crypto'
 * const client = createTesseraClient({ ..., crypto: hermesCrypto(ExpoCrypto) })
 */
export function hermesCrypto(source: ExpoCryptoModule | RandomSource | undefined): CryptoProvider {
  const fill =
    typeof source === 'function'
      ? source
      : source && typeof source.getRandomValues === 'function'
        ? (b: Uint8Array) => source.getRandomValues(b)
        : undefined
  const random = checkedRandom(fill)
  return {
    getRandomValues: random,
    sha256: (data) => Promise.resolve(sha256(data)),
    verifySignature(alg, jwk, data, signature) {
      return new Promise<boolean>((resolve) => {
        // The key is checked first (a bad key rejects); a malformed signature is just false.
        const check = (verify: () => boolean) => {
          try {
            resolve(verify())
          } catch {
            resolve(false)
          }
        }
        switch (alg) {
          case 'ES256': {
            const pub = ecPoint(jwk, 'P-256', 32)
            return check(() => p256.verify(signature, data, pub, { lowS: false, prehash: true }))
          }
          case 'ES384': {
            const pub = ecPoint(jwk, 'P-384', 48)
            return check(() => p384.verify(signature, data, pub, { lowS: false, prehash: true }))
          }
          case 'EdDSA':
          case 'Ed25519': {
            if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519')
              throw new Error('expected an Ed25519 key')
            const x = b64urlBytes(jwk.x, 'x')
            if (x.length !== 32) throw new Error('invalid Ed25519 key')
            return check(() => signature.length === 64 && ed25519.verify(signature, data, x))
          }
          case 'RS256':
          case 'RS384':
          case 'RS512':
            return resolve(verifyRsa(alg, jwk, data, signature))
          default:
            throw new Error(`unsupported signature algorithm ${alg}`)
        }
      })
    },
  }
}
