/**
 * Signing algorithms for Tessera's tokens: how many access tokens one core signs per second with
 * the server's signer (node:crypto on a KeyObject), how many a resource server verifies, and how
 * large the token is. Picks the default signing algorithm; the figures go into the server README.
 *
 * Run: node --import tsx bench/signing/run.ts   (BENCH_SECONDS, default 2 per figure)
 */
import { generateKeyPairSync, createPublicKey, verify, type KeyObject } from 'node:crypto'
import { signCompactJws } from '../../packages/server/src/tokens/jws.js'
import type { SigningAlg } from '../../packages/server/src/store/types.js'
import { envNumber } from '../lib/env.js'

const SECONDS = envNumber('BENCH_SECONDS', 2, 0.1, 600)

function keys(alg: SigningAlg): { privateKey: KeyObject; publicKey: KeyObject } {
  if (alg === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' })
  if (alg === 'EdDSA') return generateKeyPairSync('ed25519')
  return generateKeyPairSync('rsa', { modulusLength: 2048 })
}

/** Operations per CPU-second of this process, measured for `SECONDS` of CPU time. */
function rate(op: () => void): number {
  for (let i = 0; i < 200; i++) op()
  const start = process.cpuUsage()
  let n = 0
  let used = 0
  while (used < SECONDS * 1e6) {
    for (let i = 0; i < 100; i++) op()
    n += 100
    const u = process.cpuUsage(start)
    used = u.user + u.system
  }
  return n / (used / 1e6)
}

const claims = {
  iss: 'https://auth.example.com',
  sub: 'usr_4fG7hQ2kL9mN3pR5tV8wXy',
  aud: 'https://api.example.com',
  iat: 1_767_225_600,
  exp: 1_767_226_500,
  jti: 'Zk3mQ9rT2vX5yB8cD1fG4h',
  client_id: 'web-app',
  scope: 'read write',
  sid: 'q7W2eR5tY8uI1oP4aS6dFg',
  auth_time: 1_767_225_590,
  amr: ['pwd'],
}

const rows: Record<string, unknown>[] = []
for (const alg of ['ES256', 'EdDSA', 'RS256'] as const) {
  const { privateKey, publicKey } = keys(alg)
  const header = { alg, typ: 'at+jwt', kid: 'k1' }
  const token = signCompactJws(header, claims, privateKey)
  const [h, p, s] = token.split('.') as [string, string, string]
  const data = Buffer.from(`${h}.${p}`)
  const sig = Buffer.from(s, 'base64url')
  // Through its JWK, as a resource server gets it from the JWKS.
  const pub = createPublicKey({ key: publicKey.export({ format: 'jwk' }), format: 'jwk' })
  const verifyOnce =
    alg === 'ES256'
      ? () => verify('sha256', data, { key: pub, dsaEncoding: 'ieee-p1363' }, sig)
      : alg === 'EdDSA'
        ? () => verify(null, data, pub, sig)
        : () => verify('sha256', data, pub, sig)
  if (!verifyOnce()) throw new Error(`${alg}: the signature does not verify`)
  rows.push({
    alg,
    'sign/s': Math.round(rate(() => signCompactJws(header, claims, privateKey))),
    'verify/s': Math.round(rate(verifyOnce)),
    'token bytes': token.length,
    'JWK bytes': JSON.stringify(publicKey.export({ format: 'jwk' })).length,
  })
}
console.log(
  `signing algorithms, one core, CPU time, ${SECONDS} s per figure, node ${process.version}`,
)
console.table(rows)
