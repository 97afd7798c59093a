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
  'PS256',
  'PS384',
  'PS512',
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

/** The public key (n, e) of an RSA JWK, refusing keys under 2048 bits. */
function rsaKey(alg: string, jwk: Jwk): { n: bigint; e: bigint; bits: number } {
  if (jwk.kty !== 'RSA') throw new Error(`${alg} needs an RSA key`)
  const n = toBig(b64urlBytes(jwk.n, 'n'))
  const e = toBig(b64urlBytes(jwk.e, 'e'))
  const bits = n.toString(2).length
  if (n === 0n || bits < 2048) throw new Error('RSA keys under 2048 bits are not accepted')
  return { n, e, bits }
}

/** RSAVP1 then I2OSP (RFC 8017 5.2.2, 4.1): `s^e mod n` as `len` bytes, or null if it is longer. */
function rsaOpen(key: { n: bigint; e: bigint }, sig: Uint8Array, len: number): Uint8Array | null {
  const s = toBig(sig)
  if (s >= key.n) return null
  let m = modPow(s, key.e, key.n)
  const em = new Uint8Array(len)
  for (let i = len - 1; i >= 0; i--) {
    em[i] = Number(m & 0xffn)
    m >>= 8n
  }
  return m === 0n ? em : null
}

/**
 * RSASSA-PKCS1-v1_5 verification (RFC 8017 8.2.2): the signature raised to `e` mod `n` must equal
 * the whole expected encoding `00 01 FF..FF 00 DigestInfo`, compared byte for byte (the encoding
 * is built, never parsed, which rules out the signature-forgery bugs of lenient parsers).
 */
function verifyRsa(alg: string, jwk: Jwk, data: Uint8Array, sig: Uint8Array): boolean {
  const info = DIGEST_INFO[alg]!
  const key = rsaKey(alg, jwk)
  const k = Math.ceil(key.bits / 8)
  if (sig.length !== k) return false
  const em = rsaOpen(key, sig, k)
  if (em === null) return false
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

const PSS_HASH: Record<string, (d: Uint8Array) => Uint8Array> = {
  PS256: sha256,
  PS384: sha384,
  PS512: sha512,
}

/** MGF1 (RFC 8017 B.2.1) over `hash`. */
function mgf1(hash: (d: Uint8Array) => Uint8Array, seed: Uint8Array, len: number): Uint8Array {
  const out = new Uint8Array(len)
  const block = new Uint8Array(seed.length + 4)
  block.set(seed)
  for (let counter = 0, at = 0; at < len; counter++) {
    block[seed.length] = counter >>> 24
    block[seed.length + 1] = (counter >>> 16) & 0xff
    block[seed.length + 2] = (counter >>> 8) & 0xff
    block[seed.length + 3] = counter & 0xff
    const h = hash(block)
    out.set(h.subarray(0, Math.min(h.length, len - at)), at)
    at += h.length
  }
  return out
}

/**
 * RSASSA-PSS verification (RFC 8017 8.1.2, EMSA-PSS-VERIFY of 9.1.2) with MGF1 over the same hash
 * and a salt as long as the hash, as JWS requires for PS256/384/512 (RFC 7518 3.5). Every check of
 * 9.1.2 is made: the `bc` trailer, the zero top bits, the zero padding and the `01` separator,
 * then `H == Hash(00*8 || mHash || salt)`, compared in full.
 */
function verifyPss(alg: string, jwk: Jwk, data: Uint8Array, sig: Uint8Array): boolean {
  const hash = PSS_HASH[alg]!
  const key = rsaKey(alg, jwk)
  if (sig.length !== Math.ceil(key.bits / 8)) return false
  const emBits = key.bits - 1
  const emLen = Math.ceil(emBits / 8)
  // RSAVP1 gives a number below n; as emLen bytes it must fit (it always does when emBits % 8 != 0).
  const full = rsaOpen(key, sig, sig.length)
  if (full === null) return false
  if (full.length > emLen && full[0] !== 0) return false
  const em = full.subarray(full.length - emLen)
  const mHash = hash(data)
  const hLen = mHash.length
  const sLen = hLen
  if (emLen < hLen + sLen + 2) return false
  if (em[emLen - 1] !== 0xbc) return false
  const maskedDb = em.subarray(0, emLen - hLen - 1)
  const h = em.subarray(emLen - hLen - 1, emLen - 1)
  const topBits = 8 * emLen - emBits
  const topMask = (0xff << (8 - topBits)) & 0xff
  if ((maskedDb[0]! & topMask) !== 0) return false
  const db = mgf1(hash, h, maskedDb.length)
  for (let i = 0; i < db.length; i++) db[i] = db[i]! ^ maskedDb[i]!
  db[0] = db[0]! & ~topMask & 0xff
  const padLen = emLen - hLen - sLen - 2
  for (let i = 0; i < padLen; i++) if (db[i] !== 0) return false
  if (db[padLen] !== 0x01) return false
  const salt = db.subarray(db.length - sLen)
  const mPrime = new Uint8Array(8 + hLen + sLen)
  mPrime.set(mHash, 8)
  mPrime.set(salt, 8 + hLen)
  const hPrime = hash(mPrime)
  let diff = 0
  for (let i = 0; i < hLen; i++) diff |= h[i]! ^ hPrime[i]!
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
 * ES384, EdDSA/Ed25519) plus RSASSA-PKCS1-v1_5 (RS256/384/512) and RSASSA-PSS (PS256/384/512) on
 * BigInt (Hermes has BigInt). The
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
          case 'PS256':
          case 'PS384':
          case 'PS512':
            return resolve(verifyPss(alg, jwk, data, signature))
          default:
            throw new Error(`unsupported signature algorithm ${alg}`)
        }
      })
    },
  }
}
