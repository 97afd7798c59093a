import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postForm, signInTokens } from '../helpers/grants.js'
import { authorize } from '../helpers/oauth-flow.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'

let t: TestServer
beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t.close()
})

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The share of distinct values, and how many bits each one decodes to. */
function bitsOf(values: string[]): { uniqueRatio: number; bits: number } {
  const bytes = values.map((v) => Buffer.from(v, 'base64url'))
  return { uniqueRatio: new Set(values).size / values.length, bits: bytes[0]!.length * 8 }
}

describe('SES-01 session ids and opaque tokens come from a CSPRNG, carry >= 128 bits and are not UUIDs', () => {
  it('client session ids (the sid claim and the first part of every refresh token)', async () => {
    const user = await t.createUser('sid-user')
    const sids: string[] = []
    for (let i = 0; i < 40; i++) {
      const r = await signInTokens(t, user)
      const sid = decodeJwt(r.body.access_token).sid as string
      expect(r.body.refresh_token.startsWith(`tsr_${sid}.`)).toBe(true)
      sids.push(sid)
    }
    const { uniqueRatio, bits } = bitsOf(sids)
    expect(uniqueRatio).toBe(1)
    expect(bits).toBeGreaterThanOrEqual(128)
    for (const s of sids) {
      expect(s).toMatch(/^[A-Za-z0-9_-]{22}$/)
      expect(s).not.toMatch(UUID)
    }
    // 40 x 128 random bits: every bit position takes both values somewhere.
    const all = sids.map((s) => Buffer.from(s, 'base64url'))
    for (let bit = 0; bit < 128; bit++) {
      const ones = all.filter((b) => (b[bit >> 3]! >> (7 - (bit & 7))) & 1).length
      expect(ones).toBeGreaterThan(0)
      expect(ones).toBeLessThan(all.length)
    }
  })

  it('the SSO cookie value is 256 random bits; the store keeps only its hash', async () => {
    await t.createUser('cookie-user', 'cookie user password')
    const values: string[] = []
    for (let i = 0; i < 10; i++) {
      const a = await authorize(t, { username: 'cookie-user', password: 'cookie user password' })
      const v = a.cookies.get('tessera_sso')!
      expect(v).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(v).not.toMatch(UUID)
      expect(await t.store.getBrowserSession(v)).toBeUndefined()
      values.push(v)
    }
    expect(bitsOf(values)).toEqual({ uniqueRatio: 1, bits: 256 })
  })

  it('security event ids and access-token jti are random, not sequential or UUIDs', async () => {
    const user = await t.createUser('jti-user')
    const jtis = new Set<string>()
    for (let i = 0; i < 20; i++) {
      const r = await signInTokens(t, user)
      const jti = decodeJwt(r.body.access_token).jti as string
      expect(jti).toMatch(/^[A-Za-z0-9_-]{22}$/)
      jtis.add(jti)
      await postForm(t.url + '/oauth/revoke', { token: r.body.refresh_token, client_id: 'web-app' })
    }
    expect(jtis.size).toBe(20)
    const events = await t.store.listEvents({ type: 'token_revoked', userId: user.id, limit: 50 })
    expect(events).toHaveLength(20)
    for (const e of events) expect(e.id).toMatch(/^evt_[A-Za-z0-9_-]{22}$/)
  })
})
