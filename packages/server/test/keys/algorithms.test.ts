import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import type { SigningAlg } from '../../src/store/types.js'
import { signInTokens } from '../helpers/grants.js'
import { API_A, startTestServer } from '../helpers/test-server.js'

describe('signing algorithms', () => {
  it.each<[SigningAlg, Record<string, unknown>]>([
    ['ES256', { kty: 'EC', crv: 'P-256' }],
    ['EdDSA', { kty: 'OKP', crv: 'Ed25519' }],
    ['RS256', { kty: 'RSA', e: 'AQAB' }],
  ])('%s keys sign access and ID tokens that verify against the JWKS', async (alg, shape) => {
    const t = await startTestServer({ config: { signingAlg: alg } })
    try {
      const user = await t.createUser()
      const res = await signInTokens(t, user, { resource: API_A })
      expect(res.status).toBe(200)
      const jwks = createRemoteJWKSet(new URL(t.url + '/.well-known/jwks.json'))
      const at = await jwtVerify(res.body.access_token, jwks, {
        issuer: t.url,
        audience: API_A,
        typ: 'at+jwt',
        algorithms: [alg],
        currentDate: new Date(t.clock.now()),
      })
      expect(at.protectedHeader.alg).toBe(alg)
      const id = await jwtVerify(res.body.id_token, jwks, {
        issuer: t.url,
        audience: 'web-app',
        algorithms: [alg],
        currentDate: new Date(t.clock.now()),
      })
      expect(decodeProtectedHeader(res.body.id_token).typ).toBe('JWT')
      expect(typeof id.payload.at_hash).toBe('string')
      const doc = await (await fetch(t.url + '/.well-known/openid-configuration')).json()
      expect(doc.id_token_signing_alg_values_supported).toEqual([alg])
      const { keys } = await (await fetch(t.url + '/.well-known/jwks.json')).json()
      expect(keys[0]).toMatchObject({ ...shape, alg, use: 'sig' })
      if (alg === 'RS256') {
        // JWT-03: RSA keys are at least 2048 bits
        expect(Buffer.from(keys[0].n, 'base64url').length * 8).toBeGreaterThanOrEqual(2048)
      }
    } finally {
      await t.close()
    }
  })
})
