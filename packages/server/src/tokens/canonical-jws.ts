import { isCanonicalJwsSignature } from '@tessera/verify'

/** Order of the P-256 group; an ECDSA signature (r, s) verifies as (r, n - s) too. */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n
const P256_HALF_N = P256_N >> 1n

/** Bytes of a signature under `alg` by the key `jwk` (RSA: the modulus length); 0 if unknown. */
export function signatureLength(alg: string, jwk: { n?: unknown }): number {
  switch (alg) {
    case 'ES256':
    case 'EdDSA':
    case 'Ed25519':
      return 64
    case 'RS256':
    case 'PS256':
      return typeof jwk.n === 'string' ? Buffer.from(jwk.n, 'base64url').length : 0
    default:
      return 0
  }
}

const sOf = (sig: Buffer): bigint => BigInt(`0x${sig.subarray(32, 64).toString('hex')}`)

/** An ES256 signature (R || S) with S in the lower half of the group order. */
export function toLowS(sig: Buffer): Buffer {
  const s = sOf(sig)
  if (s <= P256_HALF_N) return sig
  const low = Buffer.from((P256_N - s).toString(16).padStart(64, '0'), 'hex')
  return Buffer.concat([sig.subarray(0, 32), low])
}

/**
 * JWT-19: a token has one spelling. Its characters are ASCII and its signature segment the
 * canonical base64url of a signature of the right length (no padding, no `+` or `/`, zero unused
 * bits: @tessera/verify's check; jose ignores the unused bits). With `lowS`, an ES256 signature
 * must also have S <= n/2: the server signs so, and (r, n - s) would otherwise be a second valid
 * signature of the same token.
 */
export function isCanonicalJws(
  token: string,
  alg: string,
  jwk: { n?: unknown },
  opts: { lowS: boolean },
): boolean {
  const length = signatureLength(alg, jwk)
  if (!isCanonicalJwsSignature(token, length)) return false
  if (!opts.lowS || alg !== 'ES256') return true
  const sig = Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url')
  return sOf(sig) <= P256_HALF_N
}
