/**
 * Device keys of native apps and the checks of a biometric step-up: the public key an app
 * registers (an ES256 key made in the Secure Enclave / Android Keystore, usable only after the
 * device's biometric prompt), and the signature it sends over a step-up challenge.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import { calculateJwkThumbprint } from 'jose'
import type { DeviceKeyRecord } from '../store/types.js'

/** `amr` a biometric step-up adds (RFC 8176): a hardware-bound key (`hwk`) whose use needed the
 * user's presence and verification (`user`). RFC 8176 has no biometric value that does not name
 * the modality (`fpt`, `face`), and the app cannot prove which one the device used, so none is
 * claimed; with a password before, `hwk`+`user` count as a second factor (mfa/second-factor.ts). */
export const AMR_DEVICE_STEP_UP = ['hwk', 'user'] as const

/** Device keys a user may have at most. */
export const MAX_DEVICE_KEYS = 20

export type PublicJwk = DeviceKeyRecord['publicJwk']

/**
 * The public key of a registration, from a JWK (`public_jwk`) or from base64 SPKI DER
 * (`public_key`, what react-native-biometrics' `createKeys` returns): EC P-256 (ES256), or RSA of
 * at least 2048 bits (RS256, the keys react-native-biometrics makes). Undefined for anything else
 * (another curve or key type, a short RSA key, a private key, a point off the curve).
 */
export function readPublicKey(jwk: unknown, spki: unknown): PublicJwk | undefined {
  let key: KeyObject
  try {
    if (jwk !== undefined && spki === undefined) {
      if (typeof jwk !== 'object' || jwk === null || 'd' in jwk) return undefined
      const j = jwk as Record<string, unknown>
      if (j.kty === 'EC' && j.crv === 'P-256' && typeof j.x === 'string' && typeof j.y === 'string')
        key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: j.x, y: j.y }, format: 'jwk' })
      else if (j.kty === 'RSA' && typeof j.n === 'string' && typeof j.e === 'string')
        key = createPublicKey({ key: { kty: 'RSA', n: j.n, e: j.e }, format: 'jwk' })
      else return undefined
    } else if (spki !== undefined && jwk === undefined) {
      if (typeof spki !== 'string' || spki.length > 2048 || !/^[A-Za-z0-9+/=_-]+$/.test(spki))
        return undefined
      key = createPublicKey({ key: Buffer.from(spki, 'base64'), format: 'der', type: 'spki' })
    } else {
      return undefined
    }
  } catch {
    return undefined
  }
  const details = key.asymmetricKeyDetails
  if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') {
    const out = key.export({ format: 'jwk' })
    if (typeof out.x !== 'string' || typeof out.y !== 'string') return undefined
    return { kty: 'EC', crv: 'P-256', x: out.x, y: out.y }
  }
  if (
    key.asymmetricKeyType === 'rsa' &&
    (details?.modulusLength ?? 0) >= MIN_RSA_BITS &&
    (details?.modulusLength ?? 0) <= MAX_RSA_BITS
  ) {
    const out = key.export({ format: 'jwk' })
    if (typeof out.n !== 'string' || typeof out.e !== 'string') return undefined
    return { kty: 'RSA', n: out.n, e: out.e }
  }
  return undefined
}

const MIN_RSA_BITS = 2048
const MAX_RSA_BITS = 4096

export function thumbprint(jwk: PublicJwk): Promise<string> {
  return calculateJwkThumbprint(jwk, 'sha256')
}

/**
 * Whether `signature` (base64 or base64url) is the key's signature of `payload` (UTF-8): ES256
 * (ASN.1 DER as Keystore and Secure Enclave make it, or raw r||s of 64 bytes as WebCrypto does)
 * for an EC key, RS256 (RSASSA-PKCS1-v1_5 with SHA-256) for an RSA key.
 */
export function verifySignature(jwk: PublicJwk, payload: string, signature: string): boolean {
  if (signature.length > 1024 || !/^[A-Za-z0-9+/=_-]+$/.test(signature)) return false
  // Node's base64 decoder reads both alphabets.
  const sig = Buffer.from(signature, 'base64')
  try {
    const key = createPublicKey({ key: jwk, format: 'jwk' })
    return verify(
      'sha256',
      Buffer.from(payload, 'utf8'),
      jwk.kty === 'RSA' ? key : { key, dsaEncoding: sig.length === 64 ? 'ieee-p1363' : 'der' },
      sig,
    )
  } catch {
    return false
  }
}
