import {
  constants,
  createHash,
  createHmac,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto'
import { request } from 'node:http'
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose'

export type ProofAlg = 'ES256' | 'EdDSA' | 'Ed25519' | 'RS256' | 'PS256'

/** A client's DPoP key: node:crypto pair, public and private JWK, RFC 7638 thumbprint (jose's). */
export interface DpopKey {
  alg: ProofAlg
  privateKey: KeyObject
  publicJwk: JWK
  privateJwk: JWK
  jkt: string
}

export async function dpopKey(alg: ProofAlg = 'ES256', rsaBits = 2048): Promise<DpopKey> {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA' || alg === 'Ed25519'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: rsaBits })
  const publicJwk = await exportJWK(pair.publicKey)
  return {
    alg,
    privateKey: pair.privateKey,
    publicJwk,
    privateJwk: await exportJWK(pair.privateKey),
    jkt: await calculateJwkThumbprint(publicJwk, 'sha256'),
  }
}

export interface ProofOptions {
  htu: string
  htm?: string
  /** Seconds. */
  iat: number
  jti?: string
  /** The access token the proof goes with (`ath`). */
  accessToken?: string
  /** A server-provided nonce (RFC 9449 8). */
  nonce?: string
  /** Header members to replace or add (`undefined` removes). */
  header?: Record<string, unknown>
  /** Claims to replace or add (`undefined` removes). */
  claims?: Record<string, unknown>
  /** Signs with this key instead (a bad signature). */
  signWith?: KeyObject
}

/** `ath`: base64url SHA-256 of the access token (RFC 9449 4.2). */
export const athOf = (token: string): string =>
  createHash('sha256').update(token).digest('base64url')

const b64u = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')
const clean = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))

function signature(alg: ProofAlg, key: KeyObject, input: Buffer): Buffer {
  switch (alg) {
    case 'ES256':
      return sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' })
    case 'EdDSA':
    case 'Ed25519':
      return sign(null, input, key)
    case 'RS256':
      return sign('sha256', input, key)
    case 'PS256':
      return sign('sha256', input, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      })
  }
}

/** A DPoP proof (RFC 9449 4.2), open to every kind of tampering. */
export function makeProof(key: DpopKey, o: ProofOptions): string {
  const header = clean({ typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk, ...o.header })
  const claims = clean({
    jti: o.jti ?? randomBytes(16).toString('base64url'),
    htm: o.htm ?? 'GET',
    htu: o.htu,
    iat: o.iat,
    ...(o.accessToken !== undefined ? { ath: athOf(o.accessToken) } : {}),
    ...(o.nonce !== undefined ? { nonce: o.nonce } : {}),
    ...o.claims,
  })
  const input = `${b64u(header)}.${b64u(claims)}`
  const alg = String(header.alg)
  if (alg.toLowerCase() === 'none') return `${input}.`
  if (alg.startsWith('HS')) {
    return `${input}.${createHmac('sha256', 'a-shared-secret').update(input).digest('base64url')}`
  }
  const sig = signature(key.alg, o.signWith ?? key.privateKey, Buffer.from(input))
  return `${input}.${sig.toString('base64url')}`
}

/** A GET through node:http, where a header given as a list is sent once per value. */
export function rawGet(
  url: string,
  headers: Record<string, string | string[]>,
): Promise<{ status: number; www: string | undefined; body: any }> {
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'GET', headers },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let body: unknown = text
          try {
            body = JSON.parse(text)
          } catch {
            // not JSON
          }
          resolve({
            status: res.statusCode ?? 0,
            www: res.headers['www-authenticate'],
            body,
          })
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end()
  })
}
