import {
  createHash,
  createHmac,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto'
import { request } from 'node:http'
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose'
import type { TestServer } from './test-server.js'

/** A client's DPoP key pair (node:crypto), its public JWK and RFC 7638 thumbprint. */
export interface DpopKey {
  alg: 'ES256' | 'EdDSA' | 'Ed25519' | 'RS256' | 'PS256'
  privateKey: KeyObject
  publicJwk: JWK
  /** The private JWK, to craft a proof that leaks it. */
  privateJwk: JWK
  jkt: string
}

export async function dpopKey(alg: DpopKey['alg'] = 'ES256', rsaBits = 2048): Promise<DpopKey> {
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

const b64u = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')

export interface ProofOptions {
  htm?: string
  htu: string
  /** Seconds. Default: the server clock's now. */
  iat?: number
  jti?: string
  /** The access token the proof goes with; its hash becomes `ath`. */
  accessToken?: string
  nonce?: string
  /** Replaces or adds header members (`undefined` removes one). */
  header?: Record<string, unknown>
  /** Replaces or adds claims (`undefined` removes one). */
  claims?: Record<string, unknown>
  /** Signs with this key instead of the proof key's (a bad signature). */
  signWith?: KeyObject
}

/** `ath`: base64url SHA-256 of the access token (RFC 9449 4.2). */
export const athOf = (token: string): string =>
  createHash('sha256').update(token).digest('base64url')

function signingInput(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const clean = (o: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
  return `${b64u(clean(header))}.${b64u(clean(claims))}`
}

function jwsSign(alg: string, key: KeyObject, data: string): string {
  const buf = Buffer.from(data)
  switch (alg) {
    case 'ES256':
      return sign('sha256', buf, { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')
    case 'EdDSA':
    case 'Ed25519':
      return sign(null, buf, key).toString('base64url')
    case 'PS256':
      return sign('sha256', buf, {
        key,
        padding: 6, // RSA_PKCS1_PSS_PADDING
        saltLength: 32,
      }).toString('base64url')
    default:
      return sign('sha256', buf, key).toString('base64url')
  }
}

/** A DPoP proof JWT (RFC 9449 4.2) made with node:crypto, open to every kind of tampering. */
export function makeProof(key: DpopKey, o: ProofOptions, nowMs: number): string {
  const header: Record<string, unknown> = {
    typ: 'dpop+jwt',
    alg: key.alg,
    jwk: key.publicJwk,
    ...o.header,
  }
  const claims: Record<string, unknown> = {
    jti: o.jti ?? randomBytes(16).toString('base64url'),
    htm: o.htm ?? 'POST',
    htu: o.htu,
    iat: o.iat ?? Math.floor(nowMs / 1000),
    ...(o.accessToken !== undefined ? { ath: athOf(o.accessToken) } : {}),
    ...(o.nonce !== undefined ? { nonce: o.nonce } : {}),
    ...o.claims,
  }
  const input = signingInput(header, claims)
  const alg = header.alg
  if (typeof alg === 'string' && alg.toLowerCase() === 'none') return `${input}.`
  if (typeof alg === 'string' && alg.startsWith('HS')) {
    const mac = createHmac('sha256', 'a-shared-secret-a-shared-secret!').update(input)
    return `${input}.${mac.digest('base64url')}`
  }
  return `${input}.${jwsSign(key.alg, o.signWith ?? key.privateKey, input)}`
}

/** A proof for the test server's token endpoint, at the server's (fake) time. */
export function tokenProof(t: TestServer, key: DpopKey, o: Partial<ProofOptions> = {}): string {
  return makeProof(key, { htu: `${t.url}/oauth/token`, ...o }, t.clock.now())
}

/** A proof for the test server's userinfo endpoint (GET by default) with the access token. */
export function userinfoProof(
  t: TestServer,
  key: DpopKey,
  accessToken: string,
  o: Partial<ProofOptions> = {},
): string {
  return makeProof(key, { htu: `${t.url}/userinfo`, htm: 'GET', accessToken, ...o }, t.clock.now())
}

/**
 * POSTs a form with raw headers through node:http, where a header given as a list is sent once
 * per value (fetch would join them into one).
 */
export function postRaw(
  url: string,
  form: Record<string, string>,
  headers: Record<string, string | string[]>,
): Promise<{ status: number; body: any }> {
  const payload = Buffer.from(new URLSearchParams(form).toString())
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': String(payload.length),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
          })
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}
