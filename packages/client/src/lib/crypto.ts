import type { Jwk, PlatformSubtle } from '../platform-types.js'
import { TesseraClientError } from '../errors.js'

/**
 * The cryptography the client needs, injectable for platforms without WebCrypto (React Native's
 * Hermes): random bytes for PKCE, state and nonce; SHA-256 for the PKCE challenge; and signature
 * verification for ID tokens.
 */
export interface CryptoProvider {
  /** Fills `bytes` from a CSPRNG and returns it. */
  getRandomValues(bytes: Uint8Array): Uint8Array
  sha256(data: Uint8Array): Promise<Uint8Array>
  /**
   * Verifies a JWS signature (`alg` as in RFC 7518: ES256, ES384, RS256, PS256, EdDSA, ...) with a
   * public key in JWK form. Resolves false for a bad signature; rejects for an unsupported key.
   */
  verifySignature(alg: string, jwk: Jwk, data: Uint8Array, signature: Uint8Array): Promise<boolean>
}

/** The minimum of the Web Crypto API that `webCrypto` uses. */
export interface WebCryptoLike {
  getRandomValues<T extends ArrayBufferView>(array: T): T
  subtle: PlatformSubtle
}

type Params = {
  import: AlgorithmIdentifier | RsaHashedImportParams | EcKeyImportParams
  verify: AlgorithmIdentifier | RsaPssParams | EcdsaParams
}

const ED25519 = { name: 'Ed25519' }
/** RS256..512 and PS256..512 (RSA), ES256 and ES384 (P-256, P-384), EdDSA and Ed25519. */
const ALGS: Record<string, Params> = { EdDSA: { import: ED25519, verify: ED25519 } }
ALGS.Ed25519 = ALGS.EdDSA!
for (const bits of [256, 384, 512]) {
  const hash = `SHA-${bits}`
  const rsa = 'RSASSA-PKCS1-v1_5'
  ALGS[`RS${bits}`] = { import: { name: rsa, hash }, verify: { name: rsa } }
  ALGS[`PS${bits}`] = {
    import: { name: 'RSA-PSS', hash },
    verify: { name: 'RSA-PSS', saltLength: bits / 8 },
  }
  if (bits < 512) {
    ALGS[`ES${bits}`] = {
      import: { name: 'ECDSA', namedCurve: `P-${bits}` },
      verify: { name: 'ECDSA', hash },
    }
  }
}

/** The signature algorithms `webCrypto` can verify. */
export const WEB_CRYPTO_ALGS: readonly string[] = Object.keys(ALGS)

const buf = (b: Uint8Array): ArrayBuffer =>
  b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer

/**
 * A CryptoProvider over the Web Crypto API: `globalThis.crypto` in browsers, Node >= 20 and Deno,
 * or any object with the same shape (e.g. a React Native polyfill).
 */
export function webCrypto(crypto: WebCryptoLike | undefined = globalThis.crypto): CryptoProvider {
  if (!crypto) {
    throw new TesseraClientError(
      'configuration',
      'no Web Crypto API on this platform (globalThis.crypto is missing): pass `crypto` (a CryptoProvider) to createTesseraClient',
    )
  }
  if (typeof crypto.getRandomValues !== 'function') {
    throw new TesseraClientError(
      'configuration',
      `crypto.getRandomValues is missing: ${RANDOM_HINT}`,
    )
  }
  if (!crypto.subtle) {
    throw new TesseraClientError(
      'configuration',
      'crypto.subtle is missing (a getRandomValues-only polyfill): pass `crypto` (a CryptoProvider with sha256 and verifySignature) to createTesseraClient',
    )
  }
  return {
    getRandomValues: (bytes) => crypto.getRandomValues(bytes),
    async sha256(data) {
      return new Uint8Array(await crypto.subtle.digest('SHA-256', buf(data)))
    },
    async verifySignature(alg, jwk, data, signature) {
      const p = ALGS[alg]
      if (!p) throw new Error(`unsupported signature algorithm ${alg}`)
      // Only the public members: a JWKS entry with extra fields must not change the import.
      const { kty, crv, x, y, n, e } = jwk
      const pub: JsonWebKey = { kty, crv, x, y, n, e }
      for (const k of Object.keys(pub) as (keyof JsonWebKey)[]) {
        if (pub[k] === undefined) delete pub[k]
      }
      const key = await crypto.subtle.importKey('jwk', pub, p.import, false, ['verify'])
      return crypto.subtle.verify(p.verify, key, buf(signature), buf(data))
    },
  }
}

const RANDOM_HINT =
  'on React Native install react-native-get-random-values and import it first, or pass `crypto` (a CryptoProvider) to createTesseraClient'

/**
 * `n` bytes from the provider's CSPRNG. A provider that throws, returns something else than the
 * filled array, or leaves it all zeros (a half-done polyfill) is a `configuration` error: secrets
 * never come from `Math.random` or from an uninitialised buffer (APP-14).
 */
export function randomBytes(crypto: CryptoProvider, n: number): Uint8Array {
  const out = new Uint8Array(n)
  let r: unknown
  try {
    r = typeof crypto.getRandomValues === 'function' ? crypto.getRandomValues(out) : undefined
  } catch (err) {
    throw new TesseraClientError('configuration', `crypto.getRandomValues failed: ${RANDOM_HINT}`, {
      cause: err,
    })
  }
  if (typeof crypto.getRandomValues !== 'function') {
    throw new TesseraClientError(
      'configuration',
      `crypto.getRandomValues is missing: ${RANDOM_HINT}`,
    )
  }
  const bytes = r instanceof Uint8Array && r.length === n ? r : undefined
  if (!bytes || (n >= 16 && bytes.every((b) => b === 0))) {
    throw new TesseraClientError(
      'configuration',
      `crypto.getRandomValues returned no random bytes (an incomplete polyfill?): ${RANDOM_HINT}`,
    )
  }
  return bytes
}
