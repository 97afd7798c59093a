import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from '../helpers/test-server.js'

let t: TestServer
beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t.close()
})

describe('discovery and JWKS', () => {
  it('both metadata documents name the issuer and every endpoint under it', async () => {
    for (const path of [
      '/.well-known/openid-configuration',
      '/.well-known/oauth-authorization-server',
    ]) {
      const res = await fetch(t.url + path)
      expect(res.status).toBe(200)
      const doc = (await res.json()) as Record<string, unknown>
      expect(doc.issuer).toBe(t.url)
      for (const k of [
        'authorization_endpoint',
        'token_endpoint',
        'revocation_endpoint',
        'introspection_endpoint',
        'userinfo_endpoint',
        'jwks_uri',
        'end_session_endpoint',
      ]) {
        expect(String(doc[k]).startsWith(t.url + '/')).toBe(true)
      }
      expect(doc.code_challenge_methods_supported).toEqual(['S256'])
      expect(doc.response_types_supported).toEqual(['code'])
      expect(doc.authorization_response_iss_parameter_supported).toBe(true)
    }
  })

  it('JWT-16 JWKS has public members only, unique kids, use and alg set', async () => {
    await t.server.ctx.keys.rotate()
    const res = await fetch(t.url + '/.well-known/jwks.json')
    expect(res.headers.get('cache-control')).toMatch(/max-age=300/)
    const { keys } = (await res.json()) as { keys: Record<string, unknown>[] }
    expect(keys.length).toBe(2)
    const kids = keys.map((k) => k.kid)
    expect(new Set(kids).size).toBe(kids.length)
    for (const k of keys) {
      expect(k.use).toBe('sig')
      expect(k.alg).toBe('ES256')
      for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(k).not.toHaveProperty(priv)
    }
  })

  it('health, readiness and metrics answer', async () => {
    expect((await fetch(t.url + '/healthz')).status).toBe(200)
    const ready = await fetch(t.url + '/readyz')
    expect(await ready.json()).toEqual({ status: 'ready' })
    const metrics = await (await fetch(t.url + '/metrics')).text()
    expect(metrics).toMatch(/tessera_http_requests_total\{.*route="\/readyz".*\} 1/)
  })
})
