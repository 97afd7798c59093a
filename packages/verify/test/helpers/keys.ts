import {
  constants,
  createHmac,
  generateKeyPairSync,
  randomBytes,
  sign,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto'

export type TestAlg = 'ES256' | 'EdDSA' | 'RS256' | 'PS256'

/** A signing key of the test issuer: the private half signs, the public JWK is published. */
export interface TestKey {
  kid: string
  alg: TestAlg
  privateKey: KeyObject
  publicKey: KeyObject
  /** The public JWK as published: kid, alg and use set (JWT-16). */
  jwk: JsonWebKey & { kid: string; alg?: string; use?: string }
}

export function makeKey(
  alg: TestAlg,
  kid = `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}`,
): TestKey {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' }
  return { kid, alg, privateKey: pair.privateKey, publicKey: pair.publicKey, jwk }
}

/** An RSA key below the 2048-bit floor (JWT-03). */
export function makeWeakRsaKey(kid: string): TestKey {
  const pair = generateKeyPairSync('rsa', { modulusLength: 1024 })
  const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }
  return { kid, alg: 'RS256', privateKey: pair.privateKey, publicKey: pair.publicKey, jwk }
}

const b64 = (v: unknown): string =>
  Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url')

/** Signs the JWS signing input with the key's own algorithm, using node:crypto directly. */
export function rawSignature(key: { alg: TestAlg; privateKey: KeyObject }, input: Buffer): Buffer {
  switch (key.alg) {
    case 'ES256':
      return sign('sha256', input, { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
    case 'EdDSA':
      return sign(null, input, key.privateKey)
    case 'RS256':
      return sign('sha256', input, key.privateKey)
    case 'PS256':
      return sign('sha256', input, {
        key: key.privateKey,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      })
  }
}

/**
 * Builds a compact JWS from any header and payload, signed by `signer` (or with an empty
 * signature), so tests can craft what no well-behaved library would produce.
 */
export function craft(
  header: Record<string, unknown>,
  payload: Record<string, unknown> | string,
  signer: ((input: Buffer) => Buffer) | 'none',
): string {
  const input = `${b64(header)}.${b64(payload)}`
  const sig = signer === 'none' ? '' : signer(Buffer.from(input)).toString('base64url')
  return `${input}.${sig}`
}

/** HS256 with an arbitrary secret: the key-confusion attack uses the issuer's public key. */
export const hmacSigner =
  (secret: Buffer | string) =>
  (input: Buffer): Buffer =>
    createHmac('sha256', secret).update(input).digest()
